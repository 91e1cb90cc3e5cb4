"""Hostile input (SPEC §10): every string is valid for both databases before it
reaches them, so a lone surrogate, a NUL, deep nesting, an email that grows
when lower-cased, other scripts' digits as a TOTP code or an unknown
Transfer-Encoding answer 88 naming the field, never 77 or 500.

In-process here, on SQLite or (TEST_DATABASE_URL) PostgreSQL, where NUL and
over-long keys used to fail; the same through gunicorn in
tests/test_hostile_http.py.
"""
from __future__ import annotations

import json
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from api.body import _plainly_storable, check_strings
from api.extensions import db
from api.users.models import User
from tests.auth.test_twofactor import challenge, enable_2fa, verify
from tests.helpers import Clock, assert_error, bearer, make_account
from tests.helpers import clock  # noqa: F401 (a fixture)


def post_raw(client: FlaskClient, path: str, raw: str | bytes,
             headers: dict[str, str] | None = None) -> Any:
    return client.post(path, data=raw, content_type="application/json", headers=headers)


def invalid_character(resp: Any, field: str) -> None:
    meta = assert_error(resp, 88, "request.param.invalid_character")
    assert list(meta["fields"]) == [field]


LOGIN = "/v1/auth/login"


@pytest.mark.parametrize("raw, field", [
    # JSON escapes decode to a lone surrogate, which has no UTF-8 form
    ('{"login": "\\ud800x", "password": "pw-123456"}', "login"),
    ('{"login": "ada", "password": "\\udfff"}', "password"),
    # in a key: the field is named with the surrogate written out
    ('{"\\ud800x": "a", "password": "pw-123456"}', "\\ud800x"),
    # PostgreSQL refuses NUL in text
    ('{"login": "ada\\u0000", "password": "pw-123456"}', "login"),
    ('{"login\\u0000": "ada", "password": "pw-123456"}', "login\\x00"),
    # nested: the path names it
    ('{"login": ["x", {"k": "\\ud800"}], "password": "p"}', "login[1].k"),
])
def test_unstorable_strings_are_88_naming_the_field(
        client: FlaskClient, raw: str, field: str) -> None:
    invalid_character(post_raw(client, LOGIN, raw), field)


def test_every_endpoint_is_covered(client: FlaskClient) -> None:
    """One check of the decoded body covers every endpoint that takes one."""
    account = make_account(client)
    bad = '{"x": "a\\u0000"}'
    for path in ("/v1/auth/register", "/v1/auth/refresh", "/v1/auth/password",
                 "/v1/auth/2fa/verify", "/v1/auth/2fa/enable", "/v1/auth/2fa/disable"):
        invalid_character(post_raw(client, path, bad, headers=account.headers), "x")
    r = client.patch("/v1/users/me", data='{"display_name": "\\ud800"}',
                     content_type="application/json", headers=account.headers)
    invalid_character(r, "display_name")


def test_a_valid_surrogate_pair_and_other_scripts_pass(client: FlaskClient) -> None:
    """Only what no database can store is refused: a pair is one character."""
    account = make_account(client)
    r = client.patch("/v1/users/me", data='{"display_name": "\\ud83d\\ude00 中文 é"}',
                     content_type="application/json", headers=account.headers)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["display_name"] == "\U0001F600 中文 é"


def nested(depth: int) -> str:
    """A body whose innermost array is `depth` containers deep (the object counts)."""
    return '{"login": ' + "[" * (depth - 1) + "]" * (depth - 1) + ', "password": "p"}'


def test_deep_nesting_is_88(client: FlaskClient) -> None:
    assert_error(post_raw(client, LOGIN, nested(33)), 88, "request.body.too_deep")
    # past the decoder's own recursion limit (was a RecursionError: 500)
    deep = "[" * 5000 + "]" * 5000
    assert_error(post_raw(client, LOGIN, deep), 88, "request.body.too_deep")
    deep_object = '{"a":' * 5000 + "1" + "}" * 5000
    assert_error(post_raw(client, LOGIN, deep_object), 88, "request.body.too_deep")
    # at the limit: decoded, and the schema names the field
    meta = assert_error(post_raw(client, LOGIN, nested(32)), 88, "request.param.invalid")
    assert "login" in meta["fields"]


# strings with what the check is for: NUL, lone surrogates, other scripts, escapes
_TEXT = st.text(st.sampled_from(["a", "\x00", "\ud800", "\udfff", "é", "中", "\\", "u",
                                 "[", "{", '"']), max_size=6)
_JSON = st.recursive(st.none() | st.integers() | _TEXT,
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(_TEXT, inner, max_size=3), max_leaves=40)


@settings(max_examples=400, deadline=None)
@given(body=st.dictionaries(_TEXT, _JSON, max_size=4), ascii_only=st.booleans())
def test_the_text_shortcut_never_passes_what_the_walk_refuses(body: dict,
                                                              ascii_only: bool) -> None:
    """json_body skips the walk over the decoded body when the JSON text
    alone shows there is nothing to refuse: never for a body the walk refuses."""
    text = json.dumps(body, ensure_ascii=ascii_only)
    if _plainly_storable(text):
        check_strings(body)  # raises nothing


def test_the_text_shortcut_holds_for_plain_bodies() -> None:
    assert _plainly_storable('{"login": "ada", "password": "pw-123456", "n": [1, {}]}')
    assert not _plainly_storable('{"login": "ada\\u0000"}')
    assert not _plainly_storable('{"login": "é"}')
    assert _plainly_storable(nested(32))  # 31 brackets and the object's brace
    assert not _plainly_storable(nested(33))


def long_email() -> str:
    """254 characters; "İ".lower() is two, so its lower-cased key is 495."""
    email = "İ" * 64 + "@" + ".".join(["İ" * 60] * 3) + ".com"
    assert len(email) <= 254 < len(email.lower())
    return email


def test_email_that_outgrows_its_key_column_is_88(app: Flask, client: FlaskClient) -> None:
    r = client.post("/v1/auth/register", json={
        "username": "ada", "email": long_email(), "password": "pw-123456789"})
    meta = assert_error(r, 88, "request.param.invalid")
    assert list(meta["fields"]) == ["email"]
    account = make_account(client)
    r = client.patch("/v1/users/me", json={"email": long_email()}, headers=account.headers)
    assert list(assert_error(r, 88, "request.param.invalid")["fields"]) == ["email"]
    with app.app_context():  # nothing was written
        assert db.session.query(User).count() == 1


def test_email_growing_within_its_column_is_kept(client: FlaskClient) -> None:
    email = "İ" * 10 + "@example.com"
    r = client.post("/v1/auth/register", json={
        "username": "ada", "email": email, "password": "pw-123456789"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["data"]["email"] == email


ARABIC_INDIC = "١٢٣٤٥٦"  # str.isdigit() says True


def test_other_scripts_digits_are_not_a_totp_code(
        client: FlaskClient, clock: Clock) -> None:  # noqa: F811
    enabled = enable_2fa(client, clock)
    token = challenge(client)
    meta = assert_error(verify(client, token, ARABIC_INDIC), 88, "request.param.invalid")
    assert list(meta["fields"]) == ["code"]
    # full-width digits too
    meta = assert_error(verify(client, token, "１２３４５６"), 88, "request.param.invalid")
    assert list(meta["fields"]) == ["code"]
    r = client.post("/v1/auth/2fa/disable", headers=bearer(enabled["access_token"]),
                    json={"password": "correct horse battery", "code": ARABIC_INDIC})
    assert list(assert_error(r, 88, "request.param.invalid")["fields"]) == ["code"]
    r = client.post("/v1/auth/2fa/enable", headers=bearer(enabled["access_token"]),
                    json={"code": ARABIC_INDIC})
    assert list(assert_error(r, 88, "request.param.invalid")["fields"]) == ["code"]


def test_query_strings_are_checked_too(app: Flask, client: FlaskClient) -> None:
    account = make_account(client)
    with app.app_context():
        db.session.execute(db.update(User).values(is_admin=True))
        db.session.commit()
    r = client.get("/v1/users?cursor=a%00b", headers=account.headers)
    invalid_character(r, "cursor")
    r = client.get("/v1/users?limit=%D9%A1%D9%A0", headers=account.headers)  # "١٠"
    assert r.status_code in (200, 400)  # never 500
    r = client.get("/v1/users?cursor=%ED%A0%80", headers=account.headers)  # bad UTF-8
    assert_error(r, 88, "request.query.invalid_cursor")


@pytest.mark.parametrize("coding", ["xchunked", "gzip", "chunked, gzip"])
def test_unknown_transfer_coding_is_88(client: FlaskClient, coding: str) -> None:
    r = client.post(LOGIN, data=b"{}", headers={
        "Transfer-Encoding": coding, "Content-Type": "application/json"})
    assert_error(r, 88, "request.header.unsupported_transfer_encoding")


def test_nothing_unstorable_reaches_the_response(client: FlaskClient) -> None:
    """The 88 itself encodes: a field name holding a surrogate is written out."""
    r = post_raw(client, LOGIN, json.dumps({"\ud800": 1}, ensure_ascii=True))
    assert r.get_json()["meta"]["fields"] == {"\\ud800": [
        "Holds a character that cannot be stored: a NUL or an unpaired surrogate."]}
