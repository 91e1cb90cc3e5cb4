"""Key ids, audiences, the JWK Set and key rotation (in-process).

Every token names its key (``kid``) and its audience (``aud``), and both are
required: a token of an unknown key is ``auth.token.unknown_key``, of another
audience ``auth.token.wrong_audience`` (clients refresh on both), and a token
this server signed before key ids existed counts as expired (clients refresh,
no one is logged out). Two apps sharing one database, mid-rotation, accept
each other's tokens.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed448, ed25519, rsa
from flask import Flask

from api.auth.keys import public_jwk, secret_kid, thumbprint
from api.extensions import db
from config import ConfigError
from tests.conftest import make_app
from tests.helpers import (
    _b64, assert_error, assert_ok, claims_of, forge, make_account, me, now, refresh, sign,
    write_key_pair)

JWKS = "/.well-known/jwks.json"


def _app(tmp_path: Path, algorithm: str, private: str, public: str,
         verify: list[str] | None = None, database: str | None = None, **more: Any) -> Flask:
    settings: dict[str, Any] = {"JWT_ALGORITHM": algorithm, "JWT_PRIVATE_KEY_FILE": private,
                                "JWT_PUBLIC_KEY_FILE": public,
                                "JWT_VERIFY_KEY_FILES": verify or []}
    if database:
        settings["SQLALCHEMY_DATABASE_URI"] = database
    app = make_app(**settings, **more)
    with app.app_context():
        db.drop_all()  # a PostgreSQL test database outlives the test before
        db.create_all()
    _made.append(app)
    return app


_made: list[Flask] = []


@pytest.fixture(autouse=True)
def _drop_tables() -> Iterator[None]:
    """Tables made by _app() are dropped after the test (TEST_DATABASE_URL's
    database is shared by the whole run)."""
    yield
    while _made:
        with _made.pop().app_context():
            db.drop_all()


def _rsa() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- the JWK Set -------------------------------------------------------------------

def test_thumbprint_is_rfc_7638() -> None:
    """The worked example of RFC 7638 section 3.1."""
    jwk = {"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
           "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1"
                "L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4Q"
                "yQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpb"
                "ISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur"
                "-kEgU8awapJzKnqDKgw"}
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_jwks_lists_the_signer_first_then_the_verify_keys(tmp_path: Path) -> None:
    signer, ed448_key = ed25519.Ed25519PrivateKey.generate(), ed448.Ed448PrivateKey.generate()
    private, public = write_key_pair(signer, tmp_path, "signer")
    _, other_public = write_key_pair(ed448_key, tmp_path, "next")
    app = _app(tmp_path, "EdDSA", private, public, verify=[other_public, public])
    resp = app.test_client().get(JWKS)

    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    body = resp.get_json()
    assert body["meta"] == {"code": 200, "message": "OK"}
    assert body["keys"] == body["data"]["keys"]
    first, second = body["keys"]  # the signer listed again is one key
    assert first["crv"] == "Ed25519" and second["crv"] == "Ed448"
    for jwk, key in ((first, signer), (second, ed448_key)):
        assert jwk["kty"] == "OKP" and jwk["alg"] == "EdDSA" and jwk["use"] == "sig"
        assert jwk["kid"] == thumbprint(jwk)
        assert set(jwk) == {"kid", "kty", "alg", "use", "crv", "x"}  # nothing private
        # a standard JOSE library reads it back as the same public key
        assert jwt.PyJWK(jwk).key.public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw) == \
            key.public_key().public_bytes(serialization.Encoding.Raw,
                                          serialization.PublicFormat.Raw)
    token = make_account(app.test_client()).access_token
    assert jwt.get_unverified_header(token)["kid"] == first["kid"]


def test_jwks_of_rs256_and_its_max_age(tmp_path: Path) -> None:
    key = _rsa()
    app = _app(tmp_path, "RS256", *write_key_pair(key, tmp_path, "rsa"), JWKS_MAX_AGE=60)
    resp = app.test_client().get(JWKS)

    assert resp.headers["Cache-Control"] == "public, max-age=60"
    (jwk,) = resp.get_json()["keys"]
    assert set(jwk) == {"kid", "kty", "alg", "use", "n", "e"}  # no key_ops beside use
    assert (jwk["kty"], jwk["alg"], jwk["e"]) == ("RSA", "RS256", "AQAB")
    assert jwk["kid"] == thumbprint(jwk)
    token = make_account(app.test_client()).access_token
    claims = jwt.decode(token, jwt.PyJWK(jwk).key, algorithms=["RS256"], audience="gatehouse")
    assert claims["typ"] == "access"


def test_hs256_has_nothing_to_publish(client) -> None:
    meta = assert_error(client.get(JWKS), 10, "auth.jwks.not_published")
    assert "HS256" in meta["description"]


# --- kid and aud on decode ---------------------------------------------------------

def test_tokens_carry_kid_and_aud(app, ada) -> None:
    header = jwt.get_unverified_header(ada.access_token)
    assert header == {"alg": "HS256", "kid": secret_kid(app.config["JWT_SECRET_KEY"]),
                      "typ": "JWT"}
    assert claims_of(ada.access_token)["aud"] == "gatehouse"
    # the id of a secret tells nothing of it
    assert app.config["JWT_SECRET_KEY"][:8] not in header["kid"]


def test_unknown_kid_is_its_own_reason(client, app, ada) -> None:
    token = sign(app, claims_of(ada.access_token), kid="hs-retired-key")
    assert_error(me(client, token), 99, "auth.token.unknown_key")
    for kid in ({"not": "a string"}, 7):  # PyJWT would not write these: by hand
        signing_input = (_b64(json.dumps({"alg": "HS256", "kid": kid}).encode()) + "."
                         + _b64(json.dumps(claims_of(ada.access_token)).encode()))
        mac = hmac.new(app.config["JWT_SECRET_KEY"].encode(), signing_input.encode(),
                       hashlib.sha256).digest()
        assert_error(me(client, f"{signing_input}.{_b64(mac)}"), 99, "auth.token.malformed")


def test_a_header_written_another_way_is_parsed(client, app, ada) -> None:
    """The fast path (this server's exact header) is only a cache: a header
    with the same fields in another order finds its key too."""
    kid = jwt.get_unverified_header(ada.access_token)["kid"]
    resigned = jwt.encode(claims_of(ada.access_token), app.config["JWT_SECRET_KEY"],
                          algorithm="HS256", headers={"kid": kid}, sort_headers=False)
    assert resigned.split(".")[0] != ada.access_token.split(".")[0]
    assert assert_ok(me(client, resigned))["id"] == ada.id


def test_wrong_audience(client, app, ada) -> None:
    for aud in ("billing", ["billing", "reports"]):
        assert_error(me(client, forge(app, ada.access_token, aud=aud)),
                     99, "auth.token.wrong_audience")
    # one of the configured audiences among others is enough
    token = forge(app, ada.access_token, aud=["billing", "gatehouse"])
    assert assert_ok(me(client, token))["id"] == ada.id


def test_several_audiences_are_all_carried_and_each_verifies() -> None:
    app = make_app(JWT_AUDIENCE=["gatehouse", "https://api.example.com"])
    with app.app_context():
        db.drop_all()
        db.create_all()
    _made.append(app)
    client = app.test_client()
    account = make_account(client)
    assert claims_of(account.access_token)["aud"] == ["gatehouse", "https://api.example.com"]
    for aud in ("https://api.example.com", ["gatehouse"]):
        assert assert_ok(me(client, forge(app, account.access_token, aud=aud)))


def test_tokens_from_before_key_ids_count_as_expired(client, app, ada) -> None:
    """Signed by this server before tokens had kid and aud: the client
    refreshes (its refresh token still works) and no one is logged out."""
    claims = claims_of(ada.access_token)
    del claims["aud"]
    legacy = sign(app, claims, kid=False)
    assert_error(me(client, legacy), 99, "auth.token.expired")
    assert_ok(refresh(client, ada.refresh_token))
    # without kid but with aud: not one of ours, never accepted
    assert_error(me(client, sign(app, claims_of(ada.access_token), kid=False)),
                 99, "auth.token.invalid")
    # without kid, signed by someone else
    other = sign(app, claims, key="another-key-" + "x" * 40, kid=False)
    assert_error(me(client, other), 99, "auth.token.invalid")
    # from before, and expired anyway
    old = sign(app, {**claims, "exp": now() - 5}, kid=False)
    assert_error(me(client, old), 99, "auth.token.expired")


def test_challenge_tokens_carry_kid_and_aud_too(app) -> None:
    from api.auth.tokens import CHALLENGE, decode_jwt, encode_jwt

    with app.test_request_context():
        token = encode_jwt("1", "c1", CHALLENGE, True, 60)
        assert jwt.get_unverified_header(token)["kid"]
        assert decode_jwt(token, CHALLENGE)["aud"] == "gatehouse"


# --- rotation ------------------------------------------------------------------------

def test_rotation_between_two_apps_on_one_database(tmp_path: Path) -> None:
    """The README's procedure, in-process: mid-rotation one app signs with the
    old key and the other with the new; each accepts the other's tokens."""
    old, new = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()
    old_files = write_key_pair(old, tmp_path, "old")
    new_files = write_key_pair(new, tmp_path, "new")
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    before = _app(tmp_path, "EdDSA", *old_files, verify=[new_files[1]], database=database)
    after = _app(tmp_path, "EdDSA", *new_files, verify=[old_files[1]], database=database)
    done = _app(tmp_path, "EdDSA", *new_files, database=database)
    account = make_account(before.test_client())
    switched = make_account(after.test_client(), "bob")

    for app in (before, after):
        client = app.test_client()
        assert assert_ok(me(client, account.access_token))["id"] == account.id
        assert assert_ok(me(client, switched.access_token))["id"] == switched.id
    # the old key dropped: its tokens name a key no one knows any more (the
    # procedure waits out their lifetime first); refreshing gets a new one
    client = done.test_client()
    assert_error(me(client, account.access_token), 99, "auth.token.unknown_key")
    pair = assert_ok(refresh(client, account.refresh_token))
    assert assert_ok(me(client, pair["access_token"]))["id"] == account.id


def test_bad_verify_key_files_stop_the_app_naming_the_setting(tmp_path: Path) -> None:
    private, public = write_key_pair(ed25519.Ed25519PrivateKey.generate(), tmp_path, "good")
    rsa_private, rsa_public = write_key_pair(_rsa(), tmp_path, "rsa")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    for verify in ([str(garbage)], [rsa_public], [private]):
        with pytest.raises(ConfigError, match="^JWT_VERIFY_KEY_FILES must hold an Ed25519 or "
                                              "Ed448 public key") as raised:
            _app(tmp_path, "EdDSA", private, public, verify=verify)
        assert verify[0] in str(raised.value)
        assert "PRIVATE KEY-----" not in str(raised.value)
    with pytest.raises(ConfigError, match="^cannot read JWT key file"):
        _app(tmp_path, "EdDSA", private, public, verify=[str(tmp_path / "missing.pem")])
    assert rsa_private


def test_public_jwk_never_holds_private_members() -> None:
    for algorithm, key in (("EdDSA", ed25519.Ed25519PrivateKey.generate()),
                           ("RS256", _rsa())):
        jwk = public_jwk(algorithm, key.public_key())
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)


def test_jwks_answers_conform_to_the_document(tmp_path: Path, app) -> None:
    from tests.openapi.test_conformance import Checker

    signed = _app(tmp_path, "RS256", *write_key_pair(_rsa(), tmp_path, "rsa"))
    body = Checker(signed)("GET", JWKS, signed.test_client().get(JWKS), 200)
    assert body["data"]["keys"][0]["kty"] == "RSA"
    Checker(app)("GET", JWKS, app.test_client().get(JWKS), 404, 10)


def test_a_changed_hs256_secret_asks_for_a_refresh(tmp_path: Path) -> None:
    """A new JWT_SECRET_KEY (SECRET_KEY kept): old access tokens name an
    unknown key, and their refresh tokens still work."""
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    before = make_app(SQLALCHEMY_DATABASE_URI=database, JWT_SECRET_KEY="a" * 48)
    after = make_app(SQLALCHEMY_DATABASE_URI=database, JWT_SECRET_KEY="b" * 48)
    with before.app_context():
        db.create_all()
    account = make_account(before.test_client())
    client = after.test_client()
    assert_error(me(client, account.access_token), 99, "auth.token.unknown_key")
    pair = assert_ok(refresh(client, account.refresh_token))
    assert assert_ok(me(client, pair["access_token"]))["id"] == account.id
