"""EdDSA and RS256 access tokens, with real key files.

The keys are loaded once at start and checked there: a wrong, swapped or
mismatched key stops the app with a line naming the setting (never the key),
instead of failing the first login.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from flask import Flask

from api.auth.keys import public_jwk, thumbprint
from api.extensions import db
from config import ConfigError
from tests.conftest import make_app
from tests.helpers import (
    _b64, assert_error, assert_ok, bearer, claims_of, make_account, me, refresh, tamper, unsigned,
    write_key_pair)


def _new_key(algorithm: str) -> Any:
    if algorithm == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(params=["EdDSA", "RS256"])
def keyed(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Flask, Any]]:
    """An app signing with a real key pair of the parametrized algorithm; the key."""
    key = _new_key(request.param)
    private, public = write_key_pair(key, tmp_path, "jwt")
    app = make_app(JWT_ALGORITHM=request.param, JWT_PRIVATE_KEY_FILE=str(private),
                   JWT_PUBLIC_KEY_FILE=str(public))
    with app.app_context():
        db.create_all()
    yield app, key
    with app.app_context():
        db.drop_all()


def test_login_me_and_refresh_with_asymmetric_tokens(keyed: tuple[Flask, Any]) -> None:
    app, key = keyed
    client = app.test_client()
    account = make_account(client)
    algorithm = app.config["JWT_ALGORITHM"]
    assert jwt.get_unverified_header(account.access_token)["alg"] == algorithm
    # anyone holding the public key can verify what the server signed
    claims = jwt.decode(account.access_token, key.public_key(), algorithms=[algorithm],
                        issuer="gatehouse", audience="gatehouse")
    assert claims["sub"] == str(account.id) and claims["typ"] == "access"
    # the key id is the public key's RFC 7638 thumbprint, as published in the JWK Set
    kid = jwt.get_unverified_header(account.access_token)["kid"]
    assert kid == thumbprint(public_jwk(algorithm, key.public_key()))
    assert assert_ok(me(client, account.access_token))["username"] == "ada"
    pair = assert_ok(refresh(client, account.refresh_token))
    assert assert_ok(me(client, pair["access_token"]))["id"] == account.id


def test_tokens_the_key_did_not_sign_are_refused(keyed: tuple[Flask, Any]) -> None:
    app, _ = keyed
    client = app.test_client()
    account = make_account(client)
    algorithm = app.config["JWT_ALGORITHM"]
    claims = claims_of(account.access_token)
    public_pem = Path(app.config["JWT_PUBLIC_KEY_FILE"]).read_text()
    forged = {
        # another key of the same kind, under the real key's id, or under none
        "other key": jwt.encode(claims, _new_key(algorithm), algorithm=algorithm,
                                headers={"kid": jwt.get_unverified_header(
                                    account.access_token)["kid"]}),
        "other key, no kid": jwt.encode(claims, _new_key(algorithm), algorithm=algorithm),
        # algorithm confusion: HS256 keyed with the public key, which anyone has
        "HS256 with the public key": _hs256(claims, public_pem),
        "alg none": unsigned(claims),
        "changed claims": tamper(account.access_token, sub="999"),
    }
    for name, token in forged.items():
        resp = client.get("/v1/users/me", headers=bearer(token))
        meta = assert_error(resp, 99, "auth.token.invalid")
        assert meta["description"], name


def _hs256(claims: dict[str, Any], secret: str) -> str:
    """An HS256 token keyed with a PEM string, built by hand: PyJWT itself
    refuses to use something that looks like an asymmetric key as a secret."""
    signing_input = (_b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "."
                     + _b64(json.dumps(claims).encode()))
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


@pytest.mark.parametrize("algorithm", ["EdDSA", "RS256"])
def test_bad_key_files_stop_the_app_naming_the_setting(algorithm: str,
                                                       tmp_path: Path) -> None:
    private, public = write_key_pair(_new_key(algorithm), tmp_path, "good")
    other_private, other_public = write_key_pair(_new_key(algorithm), tmp_path, "other")
    wrong_kind = "RS256" if algorithm == "EdDSA" else "EdDSA"
    foreign_private, foreign_public = write_key_pair(_new_key(wrong_kind), tmp_path, "foreign")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n")
    cases = [
        (garbage, public, "JWT_PRIVATE_KEY_FILE must hold"),
        (private, garbage, "JWT_PUBLIC_KEY_FILE must hold"),
        (public, private, "JWT_PRIVATE_KEY_FILE must hold"),  # swapped
        (foreign_private, foreign_public, "JWT_PRIVATE_KEY_FILE must hold"),  # other kind
        (private, other_public, "JWT_PUBLIC_KEY_FILE is not the public key of"),
    ]
    secret_lines = {line for path in (private, other_private, foreign_private)
                    for line in Path(path).read_text().splitlines() if "-----" not in line}
    for private_file, public_file, message in cases:
        with pytest.raises(ConfigError, match=message) as raised:
            make_app(JWT_ALGORITHM=algorithm, JWT_PRIVATE_KEY_FILE=str(private_file),
                     JWT_PUBLIC_KEY_FILE=str(public_file))
        assert not any(line in str(raised.value) for line in secret_lines)
