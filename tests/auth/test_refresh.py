"""POST /v1/auth/refresh: rotation, reuse detection, and every way a refresh fails."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from api.auth.models import AuthSession
from api.extensions import db
from api.users.models import User, utcnow
from tests.conftest import make_app
from tests.helpers import (
    assert_error, assert_ok, claims_of, login, make_account, me, refresh)


def test_refresh_rotates_the_pair(client, ada):
    pair = assert_ok(refresh(client, ada.refresh_token))

    assert set(pair) == {"access_token", "refresh_token", "token_type", "expires_in"}
    assert pair["token_type"] == "Bearer" and pair["expires_in"] == 900
    assert pair["refresh_token"] != ada.refresh_token
    assert pair["access_token"] != ada.access_token
    # same session, same user
    old, new = claims_of(ada.access_token), claims_of(pair["access_token"])
    assert new["sid"] == old["sid"] and new["sub"] == old["sub"]
    assert new["jti"] != old["jti"]
    assert assert_ok(me(client, pair["access_token"]))["id"] == ada.id


def test_rotation_chains(client, ada):
    token = ada.refresh_token
    for _ in range(3):
        token = assert_ok(refresh(client, token))["refresh_token"]

    assert assert_ok(refresh(client, token))["token_type"] == "Bearer"


def test_refresh_extends_the_session(client, app, ada):
    with app.app_context():
        session = db.session.scalars(select(AuthSession)).one()
        session.expires_at = utcnow() + timedelta(minutes=1)
        db.session.commit()

    assert_ok(refresh(client, ada.refresh_token))

    with app.app_context():
        session = db.session.scalars(select(AuthSession)).one()
        assert session.expires_at > utcnow() + timedelta(days=29)


def past_grace(app) -> None:
    """Move every session's last rotation back past REFRESH_REUSE_GRACE_SECONDS:
    a spent token presented now is a reuse, not a lost race."""
    with app.app_context():
        for session in db.session.scalars(select(AuthSession)):
            if session.rotated_at is not None:
                session.rotated_at -= timedelta(
                    seconds=app.config["REFRESH_REUSE_GRACE_SECONDS"] + 1)
        db.session.commit()


def test_reusing_a_spent_refresh_token_revokes_the_session(client, app, ada):
    newest = assert_ok(refresh(client, ada.refresh_token))
    past_grace(app)

    meta = assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.reused")

    assert meta["description"] == ("The refresh token was already used; "
                                   "the session has been revoked.")
    # whoever held the newest pair is logged out too
    assert_error(refresh(client, newest["refresh_token"]), 99, "auth.refresh.invalid")
    assert_error(me(client, newest["access_token"]), 99, "auth.token.revoked")
    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")


def test_the_previous_token_just_after_its_rotation_is_superseded(client, ada):
    """A client's second refresh racing its first (two tabs, a retry) must
    not revoke the pair the first one received."""
    newest = assert_ok(refresh(client, ada.refresh_token))

    meta = assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.superseded")

    assert "session is kept" in meta["description"]
    assert assert_ok(me(client, newest["access_token"]))["id"] == ada.id
    assert_ok(refresh(client, newest["refresh_token"]))


def test_an_older_generation_is_a_reuse_even_within_the_grace(client, ada):
    first = assert_ok(refresh(client, ada.refresh_token))
    second = assert_ok(refresh(client, first["refresh_token"]))

    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.reused")
    assert_error(me(client, second["access_token"]), 99, "auth.token.revoked")


def test_no_grace_when_it_is_zero():
    strict = make_app(REFRESH_REUSE_GRACE_SECONDS=0)
    with strict.app_context():
        db.drop_all()
        db.create_all()
    client = strict.test_client()
    account = make_account(client)
    assert_ok(refresh(client, account.refresh_token))

    assert_error(refresh(client, account.refresh_token), 99, "auth.refresh.reused")
    with strict.app_context():
        db.session.remove()
        db.drop_all()


def test_reuse_of_an_older_generation_is_detected(client, app, ada):
    first = assert_ok(refresh(client, ada.refresh_token))
    second = assert_ok(refresh(client, first["refresh_token"]))
    past_grace(app)

    assert_error(refresh(client, first["refresh_token"]), 99, "auth.refresh.reused")
    assert_error(me(client, second["access_token"]), 99, "auth.token.revoked")


def test_reuse_revokes_only_that_session(client, app, ada):
    other = login(client)
    assert_ok(refresh(client, ada.refresh_token))
    past_grace(app)

    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.reused")

    assert assert_ok(me(client, other["access_token"]))["id"] == ada.id
    assert_ok(refresh(client, other["refresh_token"]))


def _mutate(token: str, index: int, value: str) -> str:
    parts = token.split(".")
    parts[index] = value
    return ".".join(parts)


@pytest.mark.parametrize("index,value", [(0, "0" * 32), (1, "7"), (2, "A" * 43),
                                         (3, "A" * 24)])
def test_forged_refresh_token_is_invalid_and_harmless(client, ada, index, value):
    forged = _mutate(ada.refresh_token, index, value)

    assert_error(refresh(client, forged), 99, "auth.refresh.invalid")

    # a forgery does not count as reuse: the real token still works
    assert_ok(refresh(client, ada.refresh_token))


@pytest.mark.parametrize("token", ["garbage", "a.b.c.d", "a.0.b", "a.x.b.c", ".....",
                                   "a.0.b.c.d"])
def test_garbage_refresh_token_is_invalid(client, ada, token):
    assert_error(refresh(client, token), 99, "auth.refresh.invalid")


@pytest.mark.parametrize("token", ["a.0.b.\u00e9", "a.0.b.\u00b2\u00b2"])
def test_non_ascii_refresh_token_is_invalid(client, token):
    assert_error(refresh(client, token), 99, "auth.refresh.invalid")


def test_access_token_is_not_a_refresh_token(client, ada):
    assert_error(refresh(client, ada.access_token), 99, "auth.refresh.invalid")


@pytest.mark.parametrize("payload,field", [({}, "refresh_token"),
                                           ({"refresh_token": ""}, "refresh_token"),
                                           ({"refresh_token": "x" * 513}, "refresh_token"),
                                           ({"refresh_token": 5}, "refresh_token"),
                                           ({"refresh_token": "x", "sid": "y"}, "sid")])
def test_invalid_refresh_body_is_88(client, payload, field):
    meta = assert_error(client.post("/v1/auth/refresh", json=payload),
                        88, "request.param.invalid")
    assert list(meta["fields"]) == [field]


def test_refresh_of_a_logged_out_session_is_invalid(client, ada):
    assert_ok(client.post("/v1/auth/logout", headers=ada.headers))

    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.invalid")


def test_expired_session_cannot_refresh(client, app, ada):
    with app.app_context():
        session = db.session.scalars(select(AuthSession)).one()
        session.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()

    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.invalid")
    # nor can its access tokens be used
    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")


def test_session_lifetime_is_refresh_token_ttl():
    short = make_app(REFRESH_TOKEN_TTL=5)
    with short.app_context():
        db.drop_all()
        db.create_all()
        make_account(short.test_client())
        session = db.session.scalars(select(AuthSession)).one()
        lifetime = session.expires_at - session.created_at
        db.session.remove()
        db.drop_all()

    assert timedelta(seconds=4) < lifetime <= timedelta(seconds=6)


def test_refresh_of_a_deleted_users_session_is_invalid(client, ada):
    assert_ok(client.delete("/v1/users/me", headers=ada.headers,
                            json={"password": ada.password}))

    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.invalid")


def test_refresh_for_a_user_blocked_in_the_database(client, app, ada):
    """A block that did not revoke the sessions is still caught on refresh."""
    with app.app_context():
        user = db.session.scalars(select(User)).one()
        user.is_blocked = True
        db.session.commit()

    assert_error(refresh(client, ada.refresh_token), 99, "auth.account.blocked")


def test_refresh_for_a_user_blocked_by_the_cli(client, runner, ada):
    assert runner.invoke(args=["users", "block", "ada", "--reason", "spam"]).exit_code == 0

    assert_error(refresh(client, ada.refresh_token), 99, "auth.account.blocked")


def test_refresh_after_block_never_succeeds(client, runner, ada):
    runner.invoke(args=["users", "block", "ada"])

    resp = refresh(client, ada.refresh_token)

    assert resp.status_code == 401
    assert resp.get_json()["meta"]["code"] == 99
