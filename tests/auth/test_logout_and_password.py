"""POST /v1/auth/logout and POST /v1/auth/password: which sessions survive."""
from __future__ import annotations

import pytest

from tests.helpers import (
    NEW_PASSWORD, PASSWORD, assert_error, assert_ok, change_password, login, me, refresh)


# --- logout ----------------------------------------------------------------------

def test_logout_revokes_only_the_current_session(client, ada):
    other = login(client)

    assert assert_ok(client.post("/v1/auth/logout", headers=ada.headers)) == {
        "logged_out": True, "revoked_sessions": 1}

    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")
    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.invalid")
    assert assert_ok(me(client, other["access_token"]))["id"] == ada.id
    assert_ok(refresh(client, other["refresh_token"]))


def test_logout_twice_is_revoked(client, ada):
    assert_ok(client.post("/v1/auth/logout", headers=ada.headers))

    assert_error(client.post("/v1/auth/logout", headers=ada.headers), 99, "auth.token.revoked")


def test_logout_of_one_user_leaves_others_alone(client, ada, bob):
    assert_ok(client.post("/v1/auth/logout", headers=ada.headers))

    assert assert_ok(me(client, bob.access_token))["username"] == "bob"


def test_logout_needs_a_token(client):
    assert_error(client.post("/v1/auth/logout"), 99, "auth.token.missing")


def test_login_after_logout_opens_a_working_session(client, ada):
    assert_ok(client.post("/v1/auth/logout", headers=ada.headers))

    tokens = login(client)

    assert assert_ok(me(client, tokens["access_token"]))["id"] == ada.id


# --- password change ---------------------------------------------------------------

def test_wrong_current_password_is_22(client, ada):
    meta = assert_error(change_password(client, ada, current="not my password"),
                        22, "auth.password.mismatch")

    assert meta["description"] == "The password does not match."
    # nothing changed
    assert_ok(client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}))
    assert_ok(me(client, ada.access_token))


@pytest.mark.parametrize("new", ["short", "p" * 7, "p" * 129])
def test_new_password_out_of_bounds_is_88(client, ada, new):
    meta = assert_error(change_password(client, ada, new=new), 88, "request.param.invalid")

    assert meta["fields"] == {"new_password": ["Length must be between 8 and 128."]}


@pytest.mark.parametrize("payload,fields", [
    ({}, {"current_password", "new_password"}),
    ({"current_password": PASSWORD}, {"new_password"}),
    ({"new_password": NEW_PASSWORD}, {"current_password"}),
    ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "all": True}, {"all"}),
])
def test_invalid_password_change_body_is_88(client, ada, payload, fields):
    meta = assert_error(client.post("/v1/auth/password", headers=ada.headers, json=payload),
                        88, "request.param.invalid")
    assert set(meta["fields"]) == fields


def test_password_change_revokes_every_other_session(client, ada, bob):
    phone, laptop = login(client), login(client)

    data = assert_ok(change_password(client, ada))

    assert data == {"password_changed": True, "revoked_sessions": 2}
    # the current session lives on, refresh included
    assert assert_ok(me(client, ada.access_token))["id"] == ada.id
    assert_ok(refresh(client, ada.refresh_token))
    for other in (phone, laptop):
        assert_error(me(client, other["access_token"]), 99, "auth.token.revoked")
        assert_error(refresh(client, other["refresh_token"]), 99, "auth.refresh.invalid")
    # another user's sessions are not touched
    assert_ok(me(client, bob.access_token))


def test_new_password_logs_in_and_old_one_fails(client, ada):
    assert_ok(change_password(client, ada))

    assert_ok(client.post("/v1/auth/login", json={"login": "ada", "password": NEW_PASSWORD}))
    assert_error(client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}),
                 22, "auth.password.mismatch")


def test_password_change_needs_a_token(client):
    assert_error(client.post("/v1/auth/password",
                             json={"current_password": PASSWORD, "new_password": NEW_PASSWORD}),
                 99, "auth.token.missing")
