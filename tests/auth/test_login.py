"""POST /v1/auth/login: tokens, 21/22, generic errors, blocked accounts, rehash."""
from __future__ import annotations

from typing import Iterator

import jwt
import pytest
from flask import Flask
from sqlalchemy import select

from api.auth.models import AuthSession
from api.extensions import db
from api.users.models import User
from tests.conftest import make_app
from tests.helpers import (
    PASSWORD, assert_error, assert_ok, claims_of, login, me, register)

URL = "/v1/auth/login"


def post(client, login_name, password=PASSWORD):
    return client.post(URL, json={"login": login_name, "password": password})


@pytest.mark.parametrize("login_name", ["ada", "ADA", "aDa", "ada@example.com",
                                        "ADA@Example.COM"])
def test_login_by_username_or_email_case_insensitively(client, login_name):
    user = register(client, "ada", "ada@example.com")

    tokens = assert_ok(post(client, login_name))

    assert assert_ok(me(client, tokens["access_token"]))["id"] == user["id"]


def test_token_response_shape(client, app):
    user = register(client)

    tokens = login(client)

    assert set(tokens) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert tokens["token_type"] == "Bearer"
    assert tokens["expires_in"] == app.config["ACCESS_TOKEN_TTL"] == 900
    header = jwt.get_unverified_header(tokens["access_token"])
    assert header["alg"] == "HS256" and header["kid"].startswith("hs-")
    claims = claims_of(tokens["access_token"])
    assert set(claims) == {"sub", "sid", "jti", "iat", "nbf", "exp", "iss", "aud", "typ", "tfa",
                           "auth_time"}
    assert claims["aud"] == "gatehouse"
    assert claims["sub"] == str(user["id"])
    assert claims["typ"] == "access"
    assert claims["tfa"] is False
    assert claims["iss"] == "gatehouse"
    assert claims["exp"] - claims["iat"] == 900
    assert not tokens["access_token"].startswith("2f.")
    assert tokens["refresh_token"] != tokens["access_token"]
    assert PASSWORD not in str(claims)


def test_each_login_opens_its_own_session(client, app):
    register(client)

    first, second = login(client), login(client)

    assert claims_of(first["access_token"])["sid"] != claims_of(second["access_token"])["sid"]
    assert first["refresh_token"] != second["refresh_token"]
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(AuthSession)) == 2


def test_session_row_keeps_only_a_hash_of_the_refresh_token(client, app):
    register(client)
    tokens = login(client)

    with app.app_context():
        session = db.session.scalars(select(AuthSession)).one()
        assert session.refresh_hash != tokens["refresh_token"]
        assert session.refresh_hash not in tokens["refresh_token"]
        assert len(session.refresh_hash) == 64


@pytest.mark.parametrize("login_name", ["nobody", "nobody@example.com"])
def test_unknown_user_is_21(client, login_name):
    register(client)

    meta = assert_error(post(client, login_name), 21, "auth.login.unknown_user")

    assert meta["description"] == "No account has this username or email."


@pytest.mark.parametrize("password", ["wrong password", PASSWORD.upper(), PASSWORD + " "])
def test_wrong_password_is_22(client, password):
    register(client)

    meta = assert_error(post(client, "ada", password), 22, "auth.password.mismatch")

    assert meta["description"] == "The password does not match."


def test_unknown_user_costs_one_password_verification(client, app, monkeypatch):
    """Timing does not tell accounts apart: both failures verify once."""
    register(client)
    hasher = app.extensions["gatehouse.passwords"]
    calls = []
    real_verify = hasher.verify
    monkeypatch.setattr(hasher, "verify",
                        lambda h, p: calls.append(p) or real_verify(h, p))

    post(client, "nobody", "guess one")
    post(client, "ada", "guess two")

    assert calls == ["guess one", "guess two"]


@pytest.mark.parametrize("payload,field", [
    ({"password": PASSWORD}, "login"),
    ({"login": "ada"}, "password"),
    ({"login": "", "password": PASSWORD}, "login"),
    ({"login": "ada", "password": ""}, "password"),
    ({"login": "ada", "password": "p" * 129}, "password"),
    ({"login": 7, "password": PASSWORD}, "login"),
    ({"login": "ada", "password": PASSWORD, "remember": True}, "remember"),
])
def test_invalid_login_body_is_88(client, payload, field):
    meta = assert_error(client.post(URL, json=payload), 88, "request.param.invalid")
    assert list(meta["fields"]) == [field]


def test_missing_login_fields_are_named(client):
    meta = assert_error(client.post(URL, json={}), 88, "request.param.invalid")
    assert meta["description"] == "Missing required parameter: login, password"


def test_non_json_login_is_88(client):
    assert_error(client.post(URL, data="login=ada&password=x",
                             content_type="application/x-www-form-urlencoded"),
                 88, "request.body.unsupported_media_type")
    assert_error(client.post(URL, data="{", content_type="application/json"),
                 88, "request.body.invalid_json")


# --- blocked accounts ----------------------------------------------------------

def test_blocked_user_with_right_password_is_99(client, runner):
    register(client)
    assert runner.invoke(args=["users", "block", "ada", "--reason", "spam"]).exit_code == 0

    meta = assert_error(post(client, "ada"), 99, "auth.account.blocked")

    assert meta["description"] == "Account is blocked."


def test_blocked_user_with_wrong_password_is_22(client, runner):
    """The block is revealed only to someone who knows the password."""
    register(client)
    runner.invoke(args=["users", "block", "ada"])

    assert_error(post(client, "ada", "wrong password"), 22, "auth.password.mismatch")


def test_unblocked_user_can_log_in_again(client, runner):
    register(client)
    runner.invoke(args=["users", "block", "ada"])
    runner.invoke(args=["users", "unblock", "ada"])

    assert assert_ok(post(client, "ada"))["token_type"] == "Bearer"


# --- AUTH_GENERIC_LOGIN_ERRORS ----------------------------------------------------

@pytest.fixture
def generic_client(app) -> Iterator:
    generic = make_app(AUTH_GENERIC_LOGIN_ERRORS=True)
    with generic.app_context():
        db.drop_all()
        db.create_all()
    yield generic.test_client()
    with generic.app_context():
        db.session.remove()
        db.drop_all()


def test_generic_errors_hide_which_accounts_exist(generic_client):
    register(generic_client)

    unknown = assert_error(post(generic_client, "nobody"), 22,
                           "auth.login.invalid_credentials")
    wrong = assert_error(post(generic_client, "ada", "wrong password"), 22,
                         "auth.login.invalid_credentials")

    assert unknown["description"] == wrong["description"] == \
        "The login or password is incorrect."
    assert set(unknown) == set(wrong)


def test_generic_errors_still_log_in_and_report_blocks(generic_client):
    register(generic_client)
    assert assert_ok(post(generic_client, "ADA"))["token_type"] == "Bearer"

    runner = generic_client.application.test_cli_runner()
    runner.invoke(args=["users", "block", "ada"])

    assert_error(post(generic_client, "ada"), 99, "auth.account.blocked")
    assert_error(post(generic_client, "ada", "wrong password"), 22,
                 "auth.login.invalid_credentials")


# --- rehash when the argon2 parameters change ----------------------------------------

def _stored_hash(app: Flask) -> str:
    with app.app_context():
        return db.session.scalars(select(User.password_hash)).one()


def test_login_rehashes_when_argon2_parameters_change(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    old = make_app(SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=1)
    new = make_app(SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=2)
    with old.app_context():
        db.create_all()
    register(old.test_client())
    before = _stored_hash(old)
    assert before.startswith("$argon2id$") and ",t=1," in before

    assert_ok(post(new.test_client(), "ada"))

    after = _stored_hash(new)
    assert after.startswith("$argon2id$") and ",t=2," in after
    # a second login with current parameters leaves the hash alone
    assert_ok(post(new.test_client(), "ada"))
    assert _stored_hash(new) == after
    # the new hash holds the same password (and only it)
    assert_error(post(new.test_client(), "ada", "wrong password"), 22, "auth.password.mismatch")
    assert_ok(post(old.test_client(), "ADA"))
    assert ",t=1," in _stored_hash(old)


def test_failed_login_does_not_rehash(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    old = make_app(SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=1)
    new = make_app(SQLALCHEMY_DATABASE_URI=url, ARGON2_TIME_COST=2)
    with old.app_context():
        db.create_all()
    register(old.test_client())
    before = _stored_hash(old)

    assert_error(post(new.test_client(), "ada", "wrong password"), 22, "auth.password.mismatch")

    assert _stored_hash(new) == before
