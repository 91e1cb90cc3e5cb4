"""Re-authentication: changing how an account is proven needs the password
or a proof younger than REAUTH_MAX_AGE; an email change always needs the password.

A stolen access token alone must not let its holder enrol their own
authenticator (locking the owner out) or move the account's recovery
address. The proof's time is the session's auth_time, carried in access
tokens as the `auth_time` claim.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from api.auth.models import AuthSession
from api.extensions import db
from api.users.models import User
from tests.helpers import (
    PASSWORD, Account, Clock, assert_error, assert_ok, bearer, change_password, claims_of, me,
    now, refresh)

SETUP, ENABLE, ME = "/v1/auth/2fa/setup", "/v1/auth/2fa/enable", "/v1/users/me"


def age_proofs(app: Flask, seconds: int | None = None) -> None:
    """Move every session's last proof back (default: just past REAUTH_MAX_AGE)."""
    seconds = app.config["REAUTH_MAX_AGE"] + 1 if seconds is None else seconds
    with app.app_context():
        for session in db.session.scalars(select(AuthSession)):
            session.auth_time -= timedelta(seconds=seconds)
        db.session.commit()


def code_of(secret: str, clock: Clock) -> str:
    return pyotp.TOTP(secret).at(clock.now)


def test_access_tokens_carry_auth_time(client: FlaskClient, ada: Account) -> None:
    assert abs(claims_of(ada.access_token)["auth_time"] - now()) <= 5


def test_refresh_carries_auth_time_unchanged(client: FlaskClient, app: Flask,
                                             ada: Account) -> None:
    age_proofs(app, 120)
    pair = assert_ok(refresh(client, ada.refresh_token))
    assert claims_of(pair["access_token"])["auth_time"] == \
        claims_of(ada.access_token)["auth_time"] - 120


def test_a_fresh_login_may_set_up_and_enable_without_the_password(
        client: FlaskClient, ada: Account, clock: Clock) -> None:
    secret = assert_ok(client.post(SETUP, headers=ada.headers))["secret"]
    data = assert_ok(client.post(ENABLE, headers=ada.headers,
                                 json={"code": code_of(secret, clock)}))
    assert data["access_token"].startswith("2f.")
    assert abs(claims_of(data["access_token"])["auth_time"] - now()) <= 5


def test_setup_with_an_old_proof_needs_the_password(client: FlaskClient, app: Flask,
                                                    ada: Account) -> None:
    age_proofs(app)
    meta = assert_error(client.post(SETUP, headers=ada.headers), 99, "auth.reauth.required")
    assert "password" in meta["description"]
    assert_error(client.post(SETUP, headers=ada.headers, json={"password": "not the one"}),
                 22, "auth.password.mismatch")
    with app.app_context():  # nothing pending after either refusal
        assert db.session.scalars(select(User)).one().totp_pending_secret is None
    assert_ok(client.post(SETUP, headers=ada.headers, json={"password": PASSWORD}))


def test_reauthentication_renews_the_sessions_proof(client: FlaskClient, app: Flask,
                                                    ada: Account, clock: Clock) -> None:
    age_proofs(app)
    secret = assert_ok(client.post(SETUP, headers=ada.headers,
                                   json={"password": PASSWORD}))["secret"]
    # the same token: the session's proof is new, so enable needs no password
    assert_ok(client.post(ENABLE, headers=ada.headers, json={"code": code_of(secret, clock)}))


def test_refresh_after_reauthentication_carries_the_new_auth_time(
        client: FlaskClient, app: Flask, ada: Account) -> None:
    age_proofs(app)
    assert_ok(client.post(SETUP, headers=ada.headers, json={"password": PASSWORD}))
    pair = assert_ok(refresh(client, ada.refresh_token))
    assert abs(claims_of(pair["access_token"])["auth_time"] - now()) <= 5


def test_enable_with_an_old_proof_needs_the_password(client: FlaskClient, app: Flask,
                                                     ada: Account, clock: Clock) -> None:
    secret = assert_ok(client.post(SETUP, headers=ada.headers))["secret"]
    age_proofs(app)
    body: dict[str, Any] = {"code": code_of(secret, clock)}
    assert_error(client.post(ENABLE, headers=ada.headers, json=body),
                 99, "auth.reauth.required")
    assert_error(client.post(ENABLE, headers=ada.headers,
                             json={**body, "password": "not the one"}),
                 22, "auth.password.mismatch")
    assert assert_ok(me(client, ada.access_token))["two_factor_enabled"] is False
    data = assert_ok(client.post(ENABLE, headers=ada.headers,
                                 json={**body, "password": PASSWORD}))
    assert len(data["recovery_codes"]) == 10


def test_a_wrong_password_is_refused_even_with_a_fresh_proof(client: FlaskClient,
                                                             ada: Account) -> None:
    assert_error(client.post(SETUP, headers=ada.headers, json={"password": "not the one"}),
                 22, "auth.password.mismatch")


def test_sessions_without_a_recorded_proof_need_the_password(client: FlaskClient, app: Flask,
                                                             ada: Account) -> None:
    """Sessions opened before auth_time was kept (the migration leaves it empty)."""
    with app.app_context():
        db.session.scalars(select(AuthSession)).one().auth_time = None
        db.session.commit()
    assert_error(client.post(SETUP, headers=ada.headers), 99, "auth.reauth.required")
    assert_ok(client.post(SETUP, headers=ada.headers, json={"password": PASSWORD}))


def test_reauth_body_is_validated(client: FlaskClient, ada: Account) -> None:
    for body, field in (({"password": ""}, "password"), ({"password": 5}, "password"),
                        ({"pasword": PASSWORD}, "pasword")):
        meta = assert_error(client.post(SETUP, headers=ada.headers, json=body),
                            88, "request.param.invalid")
        assert list(meta["fields"]) == [field]


# --- email change -------------------------------------------------------------------

def test_email_change_needs_the_current_password_even_just_after_login(
        client: FlaskClient, ada: Account) -> None:
    meta = assert_error(client.patch(ME, headers=ada.headers, json={"email": "x@example.com"}),
                        88, "request.param.invalid")
    assert meta["fields"] == {"current_password": ["Missing data for required field."]}
    assert meta["description"] == "Missing required parameter: current_password"
    assert assert_ok(me(client, ada.access_token))["email"] == "ada@example.com"


def test_email_change_with_a_wrong_password_is_22(client: FlaskClient, ada: Account) -> None:
    assert_error(client.patch(ME, headers=ada.headers,
                              json={"email": "x@example.com", "current_password": "nope-nope"}),
                 22, "auth.password.mismatch")
    assert assert_ok(me(client, ada.access_token))["email"] == "ada@example.com"


def test_a_wrong_password_does_not_tell_whether_an_address_is_taken(
        client: FlaskClient, ada: Account, bob: Account) -> None:
    assert_error(client.patch(ME, headers=ada.headers,
                              json={"email": "bob@example.com", "current_password": "nope-nope"}),
                 22, "auth.password.mismatch")


def test_email_change_with_the_password_works_with_an_old_proof(
        client: FlaskClient, app: Flask, ada: Account) -> None:
    age_proofs(app)
    data = assert_ok(client.patch(ME, headers=ada.headers,
                                  json={"email": "new@example.com", "current_password": PASSWORD}))
    assert data["email"] == "ada@example.com"  # requested: confirmed by the mailed link
    # a right password is a proof: 2FA setup needs none now
    assert_ok(client.post(SETUP, headers=ada.headers))


def test_display_name_alone_needs_no_password(client: FlaskClient, app: Flask,
                                              ada: Account) -> None:
    age_proofs(app)
    assert assert_ok(client.patch(ME, headers=ada.headers,
                                  json={"display_name": "Ada"}))["display_name"] == "Ada"


def test_a_password_given_with_a_display_name_is_checked(client: FlaskClient,
                                                         ada: Account) -> None:
    assert_error(client.patch(ME, headers=ada.headers,
                              json={"display_name": "Ada", "current_password": "nope-nope"}),
                 22, "auth.password.mismatch")
    assert_ok(client.patch(ME, headers=ada.headers,
                           json={"display_name": "Ada", "current_password": PASSWORD}))


def test_a_password_alone_is_not_a_change(client: FlaskClient, ada: Account) -> None:
    meta = assert_error(client.patch(ME, headers=bearer(ada.access_token),
                                     json={"current_password": PASSWORD}),
                        88, "request.param.invalid")
    assert meta["fields"] == {"_schema": ["Give at least one of: email, display_name, locale."]}


def test_a_password_change_renews_the_proof(client: FlaskClient, app: Flask,
                                            ada: Account) -> None:
    age_proofs(app)
    assert_ok(change_password(client, ada))
    assert_ok(client.post(SETUP, headers=ada.headers))
