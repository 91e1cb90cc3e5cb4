"""examples/resource_server.py against a live Gatehouse under gunicorn (EdDSA keys).

The example verifies tokens with ``gatehouse_client.verify`` and Gatehouse's
JWK Set: it accepts Gatehouse's tokens and refuses expired, forged,
wrong-audience and stripped-prefix ones with Gatehouse's own reasons; its 2FA
route refuses a plain token; after a key rotation the new tokens verify.
"""
from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from flask import Flask

from gatehouse_client import AuthRequired, GatehouseClient, TransportError
from tests.client.live import ROOT, Server, migrate, running, server_env, signup
from tests.helpers import write_key_pair

pytestmark = pytest.mark.slow


def _example() -> Any:
    spec = importlib.util.spec_from_file_location(
        "resource_server_example", ROOT / "examples" / "resource_server.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


class Live:
    """A Gatehouse signing with ``old``, restartable on the same port with new keys."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.old, self.new = ed25519.Ed25519PrivateKey.generate(), \
            ed25519.Ed25519PrivateKey.generate()
        self.old_files = write_key_pair(self.old, work, "old")
        self.new_files = write_key_pair(self.new, work, "new")
        self.env = server_env(f"sqlite:///{work / 'gatehouse.db'}", JWT_ALGORITHM="EdDSA",
                              JWT_AUDIENCE="gatehouse,notes",
                              JWT_PRIVATE_KEY_FILE=self.old_files[0],
                              JWT_PUBLIC_KEY_FILE=self.old_files[1])
        self.server: Server | None = None
        self._stack: Any = None

    def start(self, private: str, public: str, verify: str = "") -> None:
        port = self.server.port if self.server else None
        self.stop()
        env = {**self.env, "JWT_PRIVATE_KEY_FILE": private, "JWT_PUBLIC_KEY_FILE": public,
               "JWT_VERIFY_KEY_FILES": verify}
        self._stack = running(env, self.work / f"gunicorn-{time.monotonic_ns()}.log",
                              workers=1, port=port)
        self.server = self._stack.__enter__()

    def stop(self) -> None:
        if self._stack is not None:
            self._stack.__exit__(None, None, None)
            self._stack = None

    @property
    def jwks_url(self) -> str:
        assert self.server is not None
        return self.server.url + "/.well-known/jwks.json"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    live = Live(tmp_path_factory.mktemp("resource-server"))
    migrate(live.env)
    live.start(*live.old_files)
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module")
def notes(live: Live) -> Flask:
    """The example, for the audience "notes"; an unknown key id refetches at once."""
    return _example().create_app(live.jwks_url, "notes", refresh_cooldown=0)


def _get(app: Flask, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    resp = app.test_client().get(path, headers=headers)
    return resp.status_code, resp.get_json()


def _refused(app: Flask, path: str, token: str | None, reason: str) -> None:
    status, body = _get(app, path, token)
    assert status == 401, body
    assert body["meta"]["code"] == 99 and body["meta"]["reason"] == reason, body


def _resign(token: str, key: Any, **changes: Any) -> str:
    """The token's own claims and key id, changed and signed with ``key``."""
    prefix = "2f." if token.startswith("2f.") else ""
    raw = token[len(prefix):]
    claims = {**jwt.decode(raw, options={"verify_signature": False}), **changes}
    return prefix + jwt.encode(claims, key, algorithm="EdDSA",
                               headers={"kid": jwt.get_unverified_header(raw)["kid"]})


def test_plain_tokens_accepted_and_bad_ones_refused(live: Live, notes: Flask) -> None:
    with GatehouseClient(live.server.url) as gate:  # type: ignore[union-attr]
        user = signup(gate, "rs")
        token = gate.access_token
    assert token is not None
    status, body = _get(notes, "/notes", token)
    assert status == 200 and body["data"]["user_id"] == user["id"]

    now = int(time.time())
    _refused(notes, "/notes", None, "auth.token.missing")
    _refused(notes, "/notes", "not-a-token", "auth.token.malformed")
    _refused(notes, "/notes", _resign(token, live.old, iat=now - 100, nbf=now - 100,
                                      exp=now - 10), "auth.token.expired")
    # forged: another key, under the real key id
    _refused(notes, "/notes", _resign(token, ed25519.Ed25519PrivateKey.generate()),
             "auth.token.invalid")
    _refused(notes, "/notes", _resign(token, live.old, aud="billing"),
             "auth.token.wrong_audience")
    # a service Gatehouse's tokens are not meant for refuses them all
    billing = _example().create_app(live.jwks_url, "billing")
    _refused(billing, "/notes", token, "auth.token.wrong_audience")
    # the 2FA route refuses a plain token; adding the prefix by hand never passes
    _refused(notes, "/vault", token, "auth.permission.2fa_required")
    _refused(notes, "/notes", "2f." + token, "auth.token.2fa_mismatch")
    # HS256 is never accepted, whatever its key id
    hs = jwt.encode(jwt.decode(token, options={"verify_signature": False}), "x" * 40,
                    algorithm="HS256", headers=jwt.get_unverified_header(token) | {"alg": "HS256"})
    _refused(notes, "/notes", hs, "auth.token.invalid")


def test_two_factor_tokens_and_stripped_prefix(live: Live, notes: Flask) -> None:
    with GatehouseClient(live.server.url) as gate:  # type: ignore[union-attr]
        user = signup(gate, "rs2f")
        totp = pyotp.TOTP(gate.setup_2fa()["secret"])
        gate.enable_2fa(totp.now())
        token = gate.access_token
    assert token is not None and token.startswith("2f.")
    for path in ("/notes", "/vault"):
        status, body = _get(notes, path, token)
        assert status == 200 and body["data"]["user_id"] == user["id"], body
    _refused(notes, "/vault", token[3:], "auth.token.2fa_mismatch")
    _refused(notes, "/notes", token[3:], "auth.token.2fa_mismatch")


def test_the_function_form_and_its_errors(live: Live) -> None:
    from gatehouse_client import verify_access_token

    with GatehouseClient(live.server.url) as gate:  # type: ignore[union-attr]
        signup(gate, "rsfn")
        token = gate.access_token
    verified = verify_access_token(token, live.jwks_url, audience="notes")
    assert verified.two_factor is False and verified.session_id
    with pytest.raises(AuthRequired) as refused:
        verify_access_token(token, live.jwks_url, audience="notes", require_two_factor=True)
    assert refused.value.reason == "auth.permission.2fa_required"
    assert refused.value.code == 99 and refused.value.should_login is False
    with pytest.raises(TransportError):
        verify_access_token(token, live.server.url + "/nowhere.json",  # type: ignore[union-attr]
                            audience="notes")


def test_after_a_key_rotation_new_tokens_verify(live: Live, notes: Flask) -> None:
    with GatehouseClient(live.server.url) as gate:  # type: ignore[union-attr]
        signup(gate, "rsrot")
        old_token, refresh = gate.access_token, gate.refresh_token
    assert _get(notes, "/notes", old_token)[0] == 200  # the example has cached the old set
    # the signer switched to the new key; the old one still verifies
    live.start(*live.new_files, verify=live.old_files[1])
    with GatehouseClient(live.server.url, refresh_token=refresh) as gate:  # type: ignore
        gate.refresh()
        new_token = gate.access_token
    assert jwt.get_unverified_header(new_token)["kid"] != \
        jwt.get_unverified_header(old_token)["kid"]
    for token in (new_token, old_token):
        assert _get(notes, "/notes", token)[0] == 200
    # the old key dropped: its tokens are refused as of an unknown key
    live.start(*live.new_files)
    fresh = _example().create_app(live.jwks_url, "notes")
    assert _get(fresh, "/notes", new_token)[0] == 200
    _refused(fresh, "/notes", old_token, "auth.token.unknown_key")
