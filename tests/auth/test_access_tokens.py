"""Access tokens on GET /v1/users/me: every attack is a 99 with its own reason."""
from __future__ import annotations

import uuid
import warnings
from types import SimpleNamespace

import pytest
from jwt.warnings import InsecureKeyLengthWarning
from sqlalchemy import event

from api.extensions import db
from tests.helpers import (
    assert_error, assert_ok, bearer, claims_of, forge, login, make_account, me, now, sign,
    tamper, unsigned)

URL = "/v1/users/me"
REQUIRED = ("sub", "sid", "jti", "iat", "nbf", "exp", "iss", "aud", "typ", "tfa")


def test_valid_token_reads_the_account(client, ada):
    assert assert_ok(me(client, ada.access_token))["username"] == "ada"


def test_scheme_is_case_insensitive(client, ada):
    resp = client.get(URL, headers={"Authorization": f"bearer {ada.access_token}"})
    assert assert_ok(resp)["id"] == ada.id


def test_missing_header(client, ada):
    meta = assert_error(client.get(URL), 99, "auth.token.missing")
    assert meta["description"] == "An access token is required."


def test_token_in_query_string_is_not_accepted(client, ada):
    assert_error(client.get(URL, query_string={"access_token": ada.access_token}),
                 99, "auth.token.missing")


@pytest.mark.parametrize("header", ["Basic YWRhOnB3", "Token {t}", "{t}", "Bearer",
                                    "Bearer ", "Bearer    "])
def test_header_not_in_bearer_form_is_malformed(client, ada, header):
    resp = client.get(URL, headers={"Authorization": header.format(t=ada.access_token)})
    meta = assert_error(resp, 99, "auth.token.malformed")
    assert meta["description"] == "Authorization header must be 'Bearer <access_token>'."


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "a.b", "....", "eyJ.eyJ.sig",
                                   "2f.garbage"])
def test_garbage_token_is_malformed(client, ada, token):
    assert_error(me(client, token), 99, "auth.token.malformed")


def test_refresh_token_is_not_an_access_token(client, ada):
    assert_error(me(client, ada.refresh_token), 99, "auth.token.malformed")


def test_expired_token(client, app, ada):
    token = forge(app, ada.access_token, iat=now() - 3600, nbf=now() - 3600,
                  exp=now() - 60)

    meta = assert_error(me(client, token), 99, "auth.token.expired")

    assert meta["description"] == "The access token has expired."


def test_alg_none_token_is_rejected(client, ada):
    token = unsigned(claims_of(ada.access_token))

    assert_error(me(client, token), 99, "auth.token.invalid")


def test_alg_none_with_prefix_is_rejected(client, ada):
    claims = {**claims_of(ada.access_token), "tfa": True}

    assert_error(me(client, "2f." + unsigned(claims)), 99, "auth.token.invalid")


def test_token_signed_with_another_key_is_invalid(client, app, ada):
    token = sign(app, claims_of(ada.access_token), key="another-key-" + "x" * 40)

    assert_error(me(client, token), 99, "auth.token.invalid")


def test_token_signed_with_an_unconfigured_algorithm_is_invalid(client, app, ada):
    with warnings.catch_warnings():  # the app's key is short for HS512; that is the point
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        token = sign(app, claims_of(ada.access_token), algorithm="HS512")

    assert_error(me(client, token), 99, "auth.token.invalid")


def test_tampered_payload_is_invalid(client, ada, bob):
    """Swapping the subject for another user's id breaks the signature."""
    token = tamper(ada.access_token, sub=str(bob.id))

    assert_error(me(client, token), 99, "auth.token.invalid")


def test_tampered_expiry_is_invalid(client, ada):
    token = tamper(ada.access_token, exp=now() + 10 * 365 * 86400)

    assert_error(me(client, token), 99, "auth.token.invalid")


@pytest.mark.parametrize("claim", REQUIRED)
def test_each_required_claim_must_be_present(client, app, ada, claim):
    token = forge(app, ada.access_token, drop=[claim])

    assert_error(me(client, token), 99, "auth.token.invalid")


def test_forged_token_with_every_claim_passes(client, app, ada):
    """The forger itself is sound: the same claims re-signed are accepted."""
    assert assert_ok(me(client, forge(app, ada.access_token)))["id"] == ada.id


@pytest.mark.parametrize("changes", [{"iss": "someone-else"}, {"nbf": now() + 3600},
                                     {"iat": now() + 3600}, {"tfa": "false"}, {"sid": 5},
                                     {"sub": 1}, {"sub": "ada"}])
def test_claims_with_wrong_values_are_invalid(client, app, ada, changes):
    assert_error(me(client, forge(app, ada.access_token, **changes)), 99, "auth.token.invalid")


@pytest.mark.parametrize("typ", ["refresh", "2fa_challenge", "ACCESS", ""])
def test_wrong_token_type(client, app, ada, typ):
    meta = assert_error(me(client, forge(app, ada.access_token, typ=typ)),
                        99, "auth.token.wrong_type")
    assert meta["description"] == "This token cannot be used here."


def test_prefix_added_by_hand_is_a_2fa_mismatch(client, ada):
    meta = assert_error(me(client, "2f." + ada.access_token), 99, "auth.token.2fa_mismatch")
    assert meta["description"] == ("Two-factor authentication mismatch: the token does not "
                                   "match the account's 2FA status.")


def test_tfa_claim_without_prefix_is_a_2fa_mismatch(client, app, ada):
    assert_error(me(client, forge(app, ada.access_token, tfa=True)),
                 99, "auth.token.2fa_mismatch")


def test_tfa_claim_and_prefix_for_a_user_without_2fa_is_a_mismatch(client, app, ada):
    token = "2f." + forge(app, ada.access_token, tfa=True)

    assert_error(me(client, token), 99, "auth.token.2fa_mismatch")


def test_unknown_session_id_is_revoked(client, app, ada):
    token = forge(app, ada.access_token, sid=uuid.uuid4().hex)

    assert_error(me(client, token), 99, "auth.token.revoked")


def test_another_users_session_id_is_revoked(client, app, ada, bob):
    """A token naming ada but bob's session does not ride on bob's session."""
    token = forge(app, ada.access_token, sid=claims_of(bob.access_token)["sid"])

    assert_error(me(client, token), 99, "auth.token.revoked")


def test_logged_out_session(client, ada):
    assert_ok(client.post("/v1/auth/logout", headers=ada.headers))

    meta = assert_error(me(client, ada.access_token), 99, "auth.token.revoked")

    assert meta["description"] == "The session of this token has been revoked."


def test_deleted_users_token(client, ada):
    assert_ok(client.delete(URL, headers=ada.headers, json={"password": ada.password}))

    meta = assert_error(me(client, ada.access_token), 99, "auth.account.deleted")

    assert meta["description"] == "The account of this token no longer exists."


def test_token_for_a_user_id_that_never_existed(client, app, ada):
    assert_error(me(client, forge(app, ada.access_token, sub="4242")),
                 99, "auth.account.deleted")


def test_blocked_users_token(client, runner, ada):
    result = runner.invoke(args=["users", "block", "ada", "--reason", "spam"])
    assert result.exit_code == 0, result.output

    meta = assert_error(me(client, ada.access_token), 99, "auth.account.blocked")

    assert meta["description"] == "Account is blocked."


def test_blocking_rejects_every_session_at_once(client, runner, ada):
    second = login(client)["access_token"]
    runner.invoke(args=["users", "block", "ada"])

    for token in (ada.access_token, second):
        assert_error(me(client, token), 99, "auth.account.blocked")


def test_blocking_one_user_leaves_others_alone(client, runner, ada, bob):
    runner.invoke(args=["users", "block", "ada"])

    assert assert_ok(me(client, bob.access_token))["username"] == "bob"


def test_every_protected_endpoint_needs_a_token(client, ada):
    endpoints = [("post", "/v1/auth/logout"), ("post", "/v1/auth/password"),
                 ("get", URL), ("patch", URL), ("delete", URL),
                 ("get", f"/v1/users/{ada.id}"), ("get", "/v1/users")]
    for method, path in endpoints:
        resp = getattr(client, method)(path, json={})
        assert_error(resp, 99, "auth.token.missing")


def test_authenticated_request_costs_one_query(client, app, ada):
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert_ok(me(client, ada.access_token))
    finally:
        event.remove(engine, "before_cursor_execute", record)

    # transaction control (SQLite's explicit BEGIN) is not a query
    queries = [s for s in statements
               if s.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK")]
    assert len(queries) == 1, statements
    assert "users" in queries[0] and "auth_sessions" in queries[0]
    # a read never loads the caller's secrets
    assert "password_hash" not in queries[0] and "totp_secret" not in queries[0]


def test_rejected_token_costs_no_query(client, app, ada):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        assert_error(me(client, tamper(ada.access_token, sub="2")), 99, "auth.token.invalid")
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert statements == []


def test_two_accounts_see_only_themselves(client):
    ada = make_account(client, "ada")
    bob = make_account(client, "bob")

    assert assert_ok(client.get(URL, headers=bearer(ada.access_token)))["id"] == ada.id
    assert assert_ok(client.get(URL, headers=bearer(bob.access_token)))["id"] == bob.id


def test_an_account_deleted_after_the_token_check_is_99(app, ada):
    """current_user() loads the entity for a changing view; the account may be
    gone by then (deleted by a concurrent request)."""
    from flask import g

    from api.auth.decorators import current_user
    from api.errors.exceptions import AuthRequiredError

    with app.test_request_context():
        g.caller = SimpleNamespace(id=ada.id + 1000)
        with pytest.raises(AuthRequiredError) as caught:
            current_user()
        assert caught.value.reason == "auth.account.deleted"
        g.caller = SimpleNamespace(id=ada.id)
        assert current_user().username == "ada"
        assert current_user() is g.user  # loaded once per request
