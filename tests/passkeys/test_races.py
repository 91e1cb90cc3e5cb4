"""Races on passkey state, under gunicorn (several workers and threads): one
request fired many times at once (a barrier releases them together). Runs on
a SQLite file, and on PostgreSQL too when TEST_DATABASE_URL names one."""
from __future__ import annotations

from collections import Counter
from typing import Any, Iterator

import pytest

from tests.helpers import at_once
from tests.passkeys.authenticator import SoftAuthenticator
from tests.server import Gunicorn, fresh_database, migrate, running, server_env

pytestmark = pytest.mark.slow

PASSWORD = "password-123"
PARALLEL = 12


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with fresh_database(tmp_path_factory.mktemp("passkey-races"), "passkey_races") as url:
        migrate(server_env(url))
        yield from running(server_env(url), workers=3)


def _ok(result: tuple[int, Any, Any]) -> Any:
    status, _, body = result
    assert status == 200, body
    return body["data"]


def _outcome(result: tuple[int, Any, Any]) -> tuple[int, str | None]:
    return result[0], result[2]["meta"].get("reason")


Enrolled = tuple[dict[str, str], SoftAuthenticator]


def _with_passkeys(srv: Gunicorn, name: str, count: int) -> Enrolled:
    """An account (no TOTP) with `count` passkeys on one authenticator; its `2f.` pair."""
    _ok(srv.call("POST", "/v1/auth/register", {"username": name,
                                               "email": f"{name}@example.com",
                                               "password": PASSWORD}))
    tokens = _ok(srv.call("POST", "/v1/auth/login", {"login": name, "password": PASSWORD}))
    devices = SoftAuthenticator()
    for _ in range(count):
        headers = {"Authorization": f"Bearer {tokens['access_token']}"}
        options = _ok(srv.call("POST", "/v1/auth/passkeys/register/options", {},
                               headers=headers))
        twin = SoftAuthenticator()  # a second authenticator: excludeCredentials holds
        answer = twin.create(options["public_key"])
        devices.credentials.update(twin.credentials)
        registered = _ok(srv.call("POST", "/v1/auth/passkeys/register",
                                  {"credential": answer}, headers=headers))
        tokens = registered["tokens"] or tokens
    return tokens, devices


def test_one_answer_signs_in_once(srv: Gunicorn) -> None:
    _, device = _with_passkeys(srv, "racer", 1)
    options = _ok(srv.call("POST", "/v1/auth/passkeys/login/options"))
    body = {"challenge_id": options["challenge_id"],
            "credential": device.get(options["public_key"])}
    outcomes = Counter(_outcome(r) for r in at_once(
        PARALLEL, lambda _: srv.call("POST", "/v1/auth/passkeys/login", body)))
    assert outcomes == {(200, None): 1, (400, "auth.passkey.challenge_used"): PARALLEL - 1}


def test_removing_two_passkeys_at_once_keeps_a_second_factor(srv: Gunicorn) -> None:
    """Each removal alone is not the last one; together they would leave an
    account with 2FA on and no factor. Under the account's lock the second
    sees it is the last, and asks for what that needs."""
    tokens, device = _with_passkeys(srv, "remover", 2)
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    # two sessions (two devices), each proven just now: nothing else orders them
    options = _ok(srv.call("POST", "/v1/auth/passkeys/login/options"))
    other = _ok(srv.call("POST", "/v1/auth/passkeys/login", {
        "challenge_id": options["challenge_id"],
        "credential": device.get(options["public_key"])}))
    sessions = [headers, {"Authorization": f"Bearer {other['access_token']}"}]
    ids = [p["id"] for p in _ok(srv.call("GET", "/v1/auth/passkeys", headers=headers))]
    results = at_once(2, lambda i: srv.call("DELETE", f"/v1/auth/passkeys/{ids[i]}", {},
                                            headers=sessions[i]))
    assert sorted(_outcome(r) for r in results) == [
        (200, None), (400, "auth.passkey.last_factor")]
    assert len(_ok(srv.call("GET", "/v1/auth/passkeys", headers=headers))) == 1
    login = _ok(srv.call("POST", "/v1/auth/login", {"login": "remover", "password": PASSWORD}))
    assert login["two_factor_required"] is True
