"""GET/PATCH/DELETE /v1/users/me: the own account."""
from __future__ import annotations

import pytest

from tests.helpers import (
    PASSWORD, assert_error, assert_ok, login, me, refresh, register)
from tests.mail.mailbox import confirm_email_change

URL = "/v1/users/me"
NEW_EMAIL = {"email": "new@example.com", "current_password": PASSWORD}
OWN_FIELDS = {"id", "username", "display_name", "created_at", "email", "is_admin",
              "is_blocked", "two_factor_enabled", "updated_at", "email_verified", "locale"}


def test_get_me_returns_the_own_account(client, ada):
    data = assert_ok(me(client, ada.access_token))

    assert set(data) == OWN_FIELDS
    assert data["id"] == ada.id
    assert data["username"] == "ada"
    assert data["email"] == "ada@example.com"
    assert data["display_name"] is None
    assert (data["is_admin"], data["is_blocked"], data["two_factor_enabled"]) == \
        (False, False, False)
    assert "password" not in me(client, ada.access_token).get_data(as_text=True)


# --- PATCH ------------------------------------------------------------------------

def test_patch_email_and_display_name(client, app, ada):
    """The display name changes at once; the email when the new address
    confirms the mailed link (issue 18: PATCH used to change it at once)."""
    data = assert_ok(client.patch(URL, headers=ada.headers,
                                  json={"email": "Lovelace@Example.org",
                                        "display_name": "Ada Lovelace",
                                        "current_password": PASSWORD}))

    assert data["email"] == "ada@example.com"
    assert data["display_name"] == "Ada Lovelace"
    assert data["username"] == "ada"
    assert assert_ok(me(client, ada.access_token))["display_name"] == "Ada Lovelace"
    confirm_email_change(client, app)
    assert assert_ok(me(client, ada.access_token))["email"] == "Lovelace@Example.org"


def test_patched_email_is_the_new_login(client, app, ada):
    assert_ok(client.patch(URL, headers=ada.headers, json=NEW_EMAIL))
    confirm_email_change(client, app)

    assert_ok(client.post("/v1/auth/login",
                          json={"login": "NEW@example.com", "password": PASSWORD}))
    assert_error(client.post("/v1/auth/login",
                             json={"login": "ada@example.com", "password": PASSWORD}),
                 21, "auth.login.unknown_user")


def test_old_email_is_free_after_a_change(client, app, ada):
    assert_ok(client.patch(URL, headers=ada.headers, json=NEW_EMAIL))
    confirm_email_change(client, app)

    assert register(client, "carol", "ada@example.com")["email"] == "ada@example.com"


def test_patch_display_name_only_keeps_the_email(client, ada):
    data = assert_ok(client.patch(URL, headers=ada.headers, json={"display_name": "A"}))

    assert (data["display_name"], data["email"]) == ("A", "ada@example.com")


def test_patch_display_name_to_null_clears_it(client, ada):
    assert_ok(client.patch(URL, headers=ada.headers, json={"display_name": "Ada"}))

    data = assert_ok(client.patch(URL, headers=ada.headers, json={"display_name": None}))

    assert data["display_name"] is None


def test_patch_own_email_in_another_case_is_allowed(client, ada):
    data = assert_ok(client.patch(URL, headers=ada.headers,
                                  json={"email": "ADA@example.com", "current_password": PASSWORD}))

    assert data["email"] == "ADA@example.com"


@pytest.mark.parametrize("payload", [{}, None])
def test_patch_with_nothing_to_change_is_88(client, ada, payload):
    resp = client.patch(URL, headers=ada.headers, json=payload) if payload is not None \
        else client.patch(URL, headers=ada.headers)

    meta = assert_error(resp, 88, "request.param.invalid")

    assert meta["fields"] == {"_schema": ["Give at least one of: email, display_name, locale."]}


@pytest.mark.parametrize("email", ["bob@example.com", "BOB@EXAMPLE.COM", "Bob@example.com"])
def test_patch_email_to_another_users_is_88(client, ada, bob, email):
    meta = assert_error(client.patch(URL, headers=ada.headers,
                                     json={"email": email, "current_password": PASSWORD}),
                        88, "user.email.taken")

    assert meta["fields"] == {"email": ["This email is already registered."]}
    assert assert_ok(me(client, ada.access_token))["email"] == "ada@example.com"


@pytest.mark.parametrize("payload,field", [
    ({"username": "eve"}, "username"),
    ({"is_admin": True}, "is_admin"),
    ({"password": "a new password"}, "password"),
    ({"email": "not-an-email"}, "email"),
    ({"email": ""}, "email"),
    ({"display_name": ""}, "display_name"),
    ({"display_name": "x" * 65}, "display_name"),
    ({"display_name": 5}, "display_name"),
])
def test_invalid_patch_is_88(client, ada, payload, field):
    meta = assert_error(client.patch(URL, headers=ada.headers, json=payload),
                        88, "request.param.invalid")

    assert list(meta["fields"]) == [field]
    data = assert_ok(me(client, ada.access_token))
    assert (data["username"], data["is_admin"], data["display_name"]) == ("ada", False, None)


def test_patch_is_all_or_nothing(client, ada, bob):
    """A taken email fails the whole patch: the display name is not half-applied."""
    assert_error(client.patch(URL, headers=ada.headers,
                              json={"display_name": "Ada", "email": "bob@example.com",
                                    "current_password": PASSWORD}),
                 88, "user.email.taken")

    assert assert_ok(me(client, ada.access_token))["display_name"] is None


def test_patch_needs_a_token(client):
    assert_error(client.patch(URL, json={"display_name": "x"}), 99, "auth.token.missing")


# --- DELETE -----------------------------------------------------------------------

def test_delete_with_wrong_password_is_22(client, ada):
    assert_error(client.delete(URL, headers=ada.headers, json={"password": "not it at all"}),
                 22, "auth.password.mismatch")

    assert assert_ok(me(client, ada.access_token))["id"] == ada.id


@pytest.mark.parametrize("payload,field", [({}, "password"), ({"password": ""}, "password"),
                                           ({"password": PASSWORD, "now": True}, "now")])
def test_delete_with_invalid_body_is_88(client, ada, payload, field):
    meta = assert_error(client.delete(URL, headers=ada.headers, json=payload),
                        88, "request.param.invalid")

    assert list(meta["fields"]) == [field]
    assert_ok(me(client, ada.access_token))


def test_delete_removes_the_account_and_its_sessions(client, ada, bob):
    other = login(client)

    assert assert_ok(client.delete(URL, headers=ada.headers,
                                   json={"password": PASSWORD})) == {"deleted": True}

    assert_error(client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}),
                 21, "auth.login.unknown_user")
    for token in (ada.access_token, other["access_token"]):
        assert_error(me(client, token), 99, "auth.account.deleted")
    assert_error(refresh(client, other["refresh_token"]), 99, "auth.refresh.invalid")
    assert_error(client.get(f"/v1/users/{ada.id}", headers=bob.headers),
                 21, "user.fetch.not_found")
    assert_ok(me(client, bob.access_token))


def test_deleted_username_and_email_can_be_registered_again(client, ada):
    assert_ok(client.delete(URL, headers=ada.headers, json={"password": PASSWORD}))

    assert register(client, "ADA", "ada@example.com")["username"] == "ADA"


def test_delete_needs_a_token(client):
    assert_error(client.delete(URL, json={"password": PASSWORD}), 99, "auth.token.missing")
