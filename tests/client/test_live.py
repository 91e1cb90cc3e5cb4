"""The client against a real server (gunicorn on loopback): every endpoint, 10/21/22/88/99."""
from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from gatehouse_client import (
    AuthRequired, GatehouseClient, InvalidParameter, NotSupported, PasswordNotMatch,
    UserNotExists)
from tests.client.live import JWT_SECRET, PASSWORD, Recorder, Server, flask, signup, unique

pytestmark = pytest.mark.slow


def forge(token: str, key: str = JWT_SECRET, **claims: Any) -> str:
    """The same access token (and key id) with some claims changed, signed with `key`."""
    prefix = "2f." if token.startswith("2f.") else ""
    body = jwt.decode(token[len(prefix):], options={"verify_signature": False})
    body.update(claims)
    kid = jwt.get_unverified_header(token[len(prefix):])["kid"]
    return prefix + jwt.encode(body, key, algorithm="HS256", headers={"kid": kid})


def test_account_lifecycle(gate: GatehouseClient, other: GatehouseClient, sleeps: Recorder,
                           admin: tuple[str, str]) -> None:
    assert gate.health() == {"status": "ok", "database": "ok"}
    assert gate.health(ready=False) == {"status": "ok"}
    name = unique("life")
    user = gate.register(name, f"{name}@example.com", PASSWORD)
    assert user["username"] == name and "password" not in str(user)
    tokens = gate.login(name, PASSWORD)
    assert isinstance(tokens, dict) and tokens["token_type"] == "Bearer"
    assert gate.access_token == tokens["access_token"] and not gate.access_token.startswith("2f.")

    me = gate.me()
    assert (me["id"], me["username"], me["two_factor_enabled"]) == (user["id"], name, False)
    with pytest.raises(InvalidParameter) as missing:  # an email change needs the password
        gate.update_me(email=f"new-{name}@example.com")
    assert list(missing.value.fields) == ["current_password"]
    changed = gate.update_me(display_name="Life", email=f"new-{name}@example.com",
                             current_password=PASSWORD)
    # the new address must confirm by mail first (tests/mail/ walks that flow)
    assert (changed["display_name"], changed["email"]) == ("Life", f"{name}@example.com")
    assert gate.get_user(me["id"]) == {"id": me["id"], "username": name,
                                       "display_name": "Life", "created_at": me["created_at"]}

    old_access, old_refresh = gate.access_token, gate.refresh_token
    gate.refresh()
    assert gate.refresh_token != old_refresh and gate.access_token != old_access
    assert gate.me()["id"] == me["id"]

    codes = [e["code"] for e in gate.error_catalog()]
    assert codes == [10, 21, 22, 77, 88, 99, 429, 500]

    # a password change revokes every other session: the other device must log in again
    other.login(name, PASSWORD)
    assert gate.change_password(PASSWORD, PASSWORD + "2") == {
        "password_changed": True, "revoked_sessions": 1}
    with pytest.raises(AuthRequired) as info:
        other.me()
    assert info.value.reason == "auth.token.revoked" and info.value.should_logout
    assert other.tokens is None  # cleared, as the catalog's hint says
    assert gate.me()["id"] == me["id"]  # this session survives

    spent = gate.access_token
    gate.logout()
    assert gate.tokens is None
    gate.access_token = spent
    with pytest.raises(AuthRequired) as info:
        gate.me()
    assert info.value.reason == "auth.token.revoked"

    gate.login(name, PASSWORD + "2")
    doomed = gate.access_token
    gate.delete_me(PASSWORD + "2")
    assert gate.tokens is None
    gate.access_token = doomed
    with pytest.raises(AuthRequired) as info:
        gate.me()
    assert info.value.reason == "auth.account.deleted" and info.value.should_logout
    gate.login(*admin)
    with pytest.raises(UserNotExists):
        gate.get_user(me["id"])
    assert sleeps == []  # nothing here is retried


def test_10_not_supported(gate: GatehouseClient, sleeps: Recorder) -> None:
    with pytest.raises(NotSupported) as info:
        gate.request("GET", "/v1/no/such/path")
    assert (info.value.status, info.value.code, info.value.message) == (404, 10, "Not Supported")
    assert info.value.reason == "request.route.not_found" and info.value.request_id
    with pytest.raises(NotSupported) as info:
        gate.request("PUT", "/v1/users/me", {})  # PUT is idempotent, yet a 10 is final
    assert info.value.reason == "request.method.not_allowed"
    assert sleeps == []


def test_21_user_not_exists(gate: GatehouseClient) -> None:
    with pytest.raises(UserNotExists) as info:
        gate.login(unique("nobody"), PASSWORD)
    assert (info.value.status, info.value.reason) == (404, "auth.login.unknown_user")
    signup(gate, "seeker")
    with pytest.raises(UserNotExists) as info:
        gate.get_user(987654321)
    assert info.value.reason == "user.fetch.not_found"


def test_22_password_not_match(gate: GatehouseClient) -> None:
    name = signup(gate, "forgetful")["username"]
    with pytest.raises(PasswordNotMatch) as info:
        gate.login(name, "wrong-password")
    assert (info.value.status, info.value.code, info.value.reason) == (
        400, 22, "auth.password.mismatch")
    with pytest.raises(PasswordNotMatch):
        gate.change_password("wrong-password", PASSWORD + "x")
    with pytest.raises(PasswordNotMatch):
        gate.delete_me("wrong-password")
    assert gate.me()["username"] == name  # nothing changed, still logged in


def test_88_invalid_parameter(gate: GatehouseClient, sleeps: Recorder) -> None:
    with pytest.raises(InvalidParameter) as info:
        gate.register("x", "not-an-email", "short")
    assert set(info.value.fields) == {"username", "email", "password"}
    assert info.value.reason == "request.param.invalid" and info.value.status == 400

    user = signup(gate, "dup")
    with pytest.raises(InvalidParameter) as info:
        gate.register(user["username"], f"other-{user['email']}", PASSWORD)
    assert info.value.reason == "user.username.taken" and set(info.value.fields) == {"username"}
    with pytest.raises(InvalidParameter) as info:
        gate.register(unique("dup"), user["email"], PASSWORD)
    assert info.value.reason == "user.email.taken"

    with pytest.raises(InvalidParameter) as info:
        gate.update_me(nickname="nope")  # unknown fields are rejected
    assert "nickname" in info.value.fields
    with pytest.raises(InvalidParameter) as info:
        gate.request("POST", "/v1/auth/login", ["not", "an", "object"], auth=False)
    assert info.value.reason == "request.body.not_object"
    with pytest.raises(InvalidParameter) as info:
        gate.enable_2fa("123456")
    assert info.value.reason == "auth.totp.not_pending"
    assert sleeps == []


def test_99_reasons(server: Server, gate: GatehouseClient, other: GatehouseClient) -> None:
    def reason_of(client: GatehouseClient) -> AuthRequired:
        with pytest.raises(AuthRequired) as info:
            client.me()
        assert (info.value.status, info.value.code) == (401, 99)
        return info.value

    error = reason_of(gate)
    assert error.reason == "auth.token.missing" and error.should_login
    assert not error.should_logout

    name = signup(gate, "nine")["username"]
    good = gate.access_token
    for token, reason in [("not-a-jwt", "auth.token.malformed"),
                          (forge(good, key="k" * 48), "auth.token.invalid"),
                          ("2f." + good, "auth.token.2fa_mismatch")]:
        other.access_token = token
        error = reason_of(other)
        assert error.reason == reason and error.should_logout, reason
        assert other.access_token is None

    other.refresh_token = "not-a-refresh-token"
    with pytest.raises(AuthRequired) as info:
        other.refresh()
    assert info.value.reason == "auth.refresh.invalid" and other.tokens is None

    # a refresh token used again just after its rotation: a lost race, the
    # winner's pair is kept
    spent = gate.refresh_token
    gate.refresh()
    other.refresh_token = spent
    with pytest.raises(AuthRequired) as info:
        other.refresh()
    assert info.value.reason == "auth.refresh.superseded" and not info.value.should_logout
    assert gate.me()["username"] == name
    # a token two rotations old: a copy leaked, the whole session is revoked
    gate.refresh()
    other.refresh_token = spent
    with pytest.raises(AuthRequired) as info:
        other.refresh()
    assert info.value.reason == "auth.refresh.reused" and info.value.should_logout
    error = reason_of(gate)
    assert error.reason == "auth.token.revoked" and gate.tokens is None

    gate.login(name, PASSWORD)
    with pytest.raises(AuthRequired) as info:
        list(gate.list_users())
    assert info.value.reason == "auth.permission.admin_required" and info.value.forbidden
    assert gate.tokens is not None  # not an admin, but still logged in

    with pytest.raises(AuthRequired) as info:
        gate.verify_2fa("not-a-challenge", "123456")
    assert info.value.reason == "auth.challenge.invalid" and info.value.should_login

    # blocked by an admin from the CLI, against the same database
    other.login(name, PASSWORD)
    flask(server.env, "users", "block", name)
    error = reason_of(gate)
    assert error.reason == "auth.account.blocked" and error.account_blocked
    assert error.should_logout and not error.should_refresh and gate.tokens is None
    with pytest.raises(AuthRequired) as info:
        gate.login(name, PASSWORD)
    assert info.value.account_blocked
    # an expired token of a blocked account: the refresh says "blocked" too
    other.access_token = forge(other.access_token, exp=int(time.time()) - 5)
    error = reason_of(other)
    assert error.account_blocked and other.tokens is None


def test_expired_token_is_refreshed_transparently(gate: GatehouseClient,
                                                  sleeps: Recorder) -> None:
    name = signup(gate, "late")["username"]
    now = int(time.time())
    gate.access_token = forge(gate.access_token, iat=now - 100, nbf=now - 100, exp=now - 10)
    before = gate.refresh_token
    assert gate.me()["username"] == name
    assert gate.refresh_token != before and sleeps == []
    assert jwt.decode(gate.access_token, options={"verify_signature": False})["exp"] > now


def test_admin_walks_every_page(gate: GatehouseClient, other: GatehouseClient,
                                admin: tuple[str, str]) -> None:
    for _ in range(3):
        name = unique("member")
        other.register(name, f"{name}@example.com", PASSWORD)
    gate.login(*admin)
    everyone = list(gate.list_users(page_size=2))
    ids = [u["id"] for u in everyone]
    assert len(ids) == len(set(ids)) >= 4 and ids == sorted(ids)
    assert ids == [u["id"] for u in gate.list_users(page_size=100)]
    page = gate.users_page(limit=2)
    assert len(page["data"]) == 2 and page["pagination"]["next_cursor"]
    with pytest.raises(InvalidParameter) as info:
        gate.users_page(cursor="not-a-cursor")
    assert info.value.reason == "request.query.invalid_cursor"
