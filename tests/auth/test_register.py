"""POST /v1/auth/register: the new user, and every 88 it can give."""
from __future__ import annotations

import pytest

from tests.helpers import PASSWORD, assert_error, assert_ok, register

URL = "/v1/auth/register"
OWN_FIELDS = {"id", "username", "display_name", "created_at", "email", "is_admin",
              "is_blocked", "two_factor_enabled", "updated_at", "email_verified", "locale"}


def body(**changes):
    data = {"username": "ada", "email": "ada@example.com", "password": PASSWORD}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_register_returns_the_new_user_without_any_secret(client):
    resp = client.post(URL, json=body(username="Ada.L-1_x", email="Ada@Example.com"))

    data = assert_ok(resp)
    assert set(data) == OWN_FIELDS
    assert isinstance(data["id"], int) and data["id"] > 0
    assert data["username"] == "Ada.L-1_x"
    assert data["email"] == "Ada@Example.com"
    assert data["display_name"] is None
    assert data["is_admin"] is False
    assert data["is_blocked"] is False
    assert data["two_factor_enabled"] is False
    assert data["created_at"].endswith("+00:00")
    text = resp.get_data(as_text=True)
    assert PASSWORD not in text
    assert "password" not in text
    assert "$argon2" not in text


def test_registered_user_can_log_in(client):
    register(client)
    resp = client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD})
    assert assert_ok(resp)["token_type"] == "Bearer"


@pytest.mark.parametrize("username", ["ada", "ADA", "Ada"])
def test_duplicate_username_is_rejected_case_insensitively(client, username):
    register(client, "ada", "first@example.com")

    meta = assert_error(client.post(URL, json=body(username=username,
                                                   email="second@example.com")),
                        88, "user.username.taken")

    assert meta["description"] == "This username is already taken."
    assert meta["fields"] == {"username": ["This username is already taken."]}


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM", "Ada@example.com"])
def test_duplicate_email_is_rejected_case_insensitively(client, email):
    register(client, "ada", "ada@example.com")

    meta = assert_error(client.post(URL, json=body(username="other", email=email)),
                        88, "user.email.taken")

    assert meta["description"] == "This email is already registered."
    assert meta["fields"] == {"email": ["This email is already registered."]}


def test_rejected_duplicate_creates_nothing(client):
    register(client, "ada", "ada@example.com")
    client.post(URL, json=body(username="ADA", email="new@example.com"))

    # the email of the rejected attempt is still free
    assert register(client, "carol", "new@example.com")["username"] == "carol"


@pytest.mark.parametrize("missing", ["username", "email", "password"])
def test_each_missing_field_is_named(client, missing):
    meta = assert_error(client.post(URL, json=body(**{missing: None})),
                        88, "request.param.invalid")

    assert meta["description"] == f"Missing required parameter: {missing}"
    assert meta["fields"] == {missing: ["Missing data for required field."]}


def test_empty_body_names_every_missing_field(client):
    meta = assert_error(client.post(URL), 88, "request.param.invalid")

    assert meta["description"] == "Missing required parameter: email, password, username"
    assert set(meta["fields"]) == {"username", "email", "password"}


@pytest.mark.parametrize("extra", [{"is_admin": True}, {"display_name": "Ada"},
                                   {"id": 1}])
def test_unknown_fields_are_rejected(client, extra):
    meta = assert_error(client.post(URL, json={**body(), **extra}),
                        88, "request.param.invalid")

    assert meta["fields"] == {name: ["Unknown field."] for name in extra}
    # nothing was created: the same username is still free
    assert register(client, "ada")["is_admin"] is False


@pytest.mark.parametrize("username", ["ab", "a" * 33, "ada lovelace", "ada@home", "ada!",
                                      "Ädä", "", "a/b"])
def test_invalid_usernames_are_rejected(client, username):
    meta = assert_error(client.post(URL, json=body(username=username)),
                        88, "request.param.invalid")
    assert list(meta["fields"]) == ["username"]


@pytest.mark.parametrize("username", ["ada\n", "root\n"])
def test_username_with_trailing_newline_is_rejected(client, username):
    meta = assert_error(client.post(URL, json=body(username=username)),
                        88, "request.param.invalid")
    assert list(meta["fields"]) == ["username"]


@pytest.mark.parametrize("username", ["abc", "a" * 32, "a.b", "a-b", "a_b", "A1z"])
def test_valid_usernames_are_accepted(client, username):
    assert register(client, username, "u@example.com")["username"] == username


@pytest.mark.parametrize("email", ["not-an-email", "ada@", "@example.com", "ada example.com",
                                   "a" * 250 + "@example.com", "", "ada@example.com\n"])
def test_invalid_emails_are_rejected(client, email):
    meta = assert_error(client.post(URL, json=body(email=email)), 88, "request.param.invalid")
    assert list(meta["fields"]) == ["email"]


@pytest.mark.parametrize("length", [0, 7, 129, 1000])
def test_password_length_out_of_bounds_is_rejected(client, length):
    meta = assert_error(client.post(URL, json=body(password="p" * length)),
                        88, "request.param.invalid")

    assert meta["fields"] == {"password": ["Length must be between 8 and 128."]}


@pytest.mark.parametrize("length", [8, 128])
def test_password_length_boundaries_are_accepted(client, length):
    password = ("Zq7!" + "p" * length)[:length]  # "pppppppp" is a common password
    register(client, password=password)

    resp = client.post("/v1/auth/login", json={"login": "ada", "password": password})
    assert assert_ok(resp)["access_token"]


@pytest.mark.parametrize("field,value", [("username", 123), ("email", ["a@b.c"]),
                                         ("password", 12345678), ("password", None)])
def test_wrong_types_are_rejected(client, field, value):
    meta = assert_error(client.post(URL, json={**body(), field: value}),
                        88, "request.param.invalid")
    assert list(meta["fields"]) == [field]


def test_malformed_json_is_rejected(client):
    assert_error(client.post(URL, data='{"username": "ada",', content_type="application/json"),
                 88, "request.body.invalid_json")


@pytest.mark.parametrize("payload", ["[]", '"ada"', "null", "42"])
def test_json_that_is_not_an_object_is_rejected(client, payload):
    assert_error(client.post(URL, data=payload, content_type="application/json"),
                 88, "request.body.not_object")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_non_json_content_type_is_rejected(client, content_type):
    data = "username=ada&email=ada%40example.com&password=correct+horse+battery"
    assert_error(client.post(URL, data=data, content_type=content_type),
                 88, "request.body.unsupported_media_type")


def test_body_over_the_size_limit_is_rejected(client):
    huge = body(password="p" * (70 * 1024))
    assert_error(client.post(URL, json=huge), 88, "request.body.too_large")


def test_get_is_not_supported(client):
    assert_error(client.get(URL), 10, "request.method.not_allowed")
