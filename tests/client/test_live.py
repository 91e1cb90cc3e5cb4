"""The client against a real server (gunicorn on loopback): every catalog code, 2FA, refresh."""
from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Iterator

import jwt
import pyotp
import pytest

from tests.server import BIN, ROOT, Gunicorn, migrate, running, server_env

pytestmark = pytest.mark.slow

PASSWORD = "client-password-1"
SECRET = "c" * 48


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    db = tmp_path_factory.mktemp("client") / "c.db"
    env = server_env(f"sqlite:///{db}", SECRET_KEY=SECRET)
    migrate(env)
    yield from running(env, workers=2)


@pytest.fixture
def client(server: Gunicorn) -> Iterator[object]:
    from gatehouse_client import GatehouseClient

    sleeps: list[float] = []
    with GatehouseClient(server.url, sleep=sleeps.append) as c:
        c.sleeps = sleeps  # type: ignore[attr-defined]
        yield c


def _signup(client: object, name: str) -> None:
    client.register(name, f"{name}@example.com", PASSWORD)
    client.login(name, PASSWORD)


def test_happy_path(client: object) -> None:
    _signup(client, "alice")
    me = client.me()
    assert me["username"] == "alice"
    assert client.update_me(display_name="Alice")["display_name"] == "Alice"
    assert client.get_user(me["id"]) == {"id": me["id"], "username": "alice",
                                         "display_name": "Alice",
                                         "created_at": me["created_at"]}
    old = client.refresh_token
    client.refresh()
    assert client.refresh_token != old
    assert client.health()["database"] == "ok"
    assert [e["code"] for e in client.error_catalog()] == [10, 21, 22, 77, 88, 99, 429, 500]
    client.change_password(PASSWORD, PASSWORD + "x")
    client.logout()
    assert client.access_token is None


def test_10_21_22_88(client: object) -> None:
    from gatehouse_client import InvalidParameter, NotSupported, PasswordNotMatch, UserNotExists

    with pytest.raises(NotSupported) as info:
        client.request("GET", "/no/such/path")
    assert (info.value.status, info.value.reason) == (404, "request.route.not_found")
    assert client.sleeps == []  # never retried
    with pytest.raises(UserNotExists):
        client.login("nobody-here", PASSWORD)
    _signup(client, "bob")
    with pytest.raises(UserNotExists) as info:
        client.get_user(987654)
    assert info.value.reason == "user.fetch.not_found"
    with pytest.raises(PasswordNotMatch) as info:
        client.login("bob", "wrong-password")
    assert info.value.code == 22 and info.value.request_id
    with pytest.raises(InvalidParameter) as info:
        client.register("x", "not-an-email", "short")
    assert set(info.value.fields) == {"username", "email", "password"}
    assert client.sleeps == []


def test_99_reasons_and_blocked(server: Gunicorn, client: object) -> None:
    from gatehouse_client import AuthRequired

    with pytest.raises(AuthRequired) as info:
        client.me()
    assert info.value.reason == "auth.token.missing"
    _signup(client, "carol")
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "users", "block", "carol"],
                   cwd=ROOT, env=server.env, check=True, capture_output=True, timeout=60)
    with pytest.raises(AuthRequired) as info:
        client.me()
    assert info.value.account_blocked and info.value.should_logout
    assert not info.value.should_refresh


def test_expired_token_is_refreshed_once(client: object) -> None:
    _signup(client, "dave")
    claims = jwt.decode(client.access_token, options={"verify_signature": False})
    claims.update(exp=int(time.time()) - 10, iat=int(time.time()) - 100,
                  nbf=int(time.time()) - 100)
    client.access_token = jwt.encode(claims, SECRET, algorithm="HS256")
    before = client.refresh_token
    assert client.me()["username"] == "dave"  # refreshed transparently
    assert client.refresh_token != before


def test_expired_token_with_spent_refresh_fails_cleanly(client: object) -> None:
    from gatehouse_client import AuthRequired

    _signup(client, "erin")
    spent = client.refresh_token
    client.refresh()
    client.refresh_token = spent  # a stolen copy: reuse revokes the session
    claims = jwt.decode(client.access_token, options={"verify_signature": False})
    claims.update(exp=int(time.time()) - 10)
    client.access_token = jwt.encode(claims, SECRET, algorithm="HS256")
    with pytest.raises(AuthRequired) as info:
        client.me()
    assert info.value.reason == "auth.refresh.reused" and info.value.should_logout
    assert client.access_token is None and client.refresh_token is None


def test_admin_listing_walks_pages(server: Gunicorn, client: object) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "users", "create", "boss",
                    "boss@example.com", "--password", PASSWORD, "--admin"],
                   cwd=ROOT, env=server.env, check=True, capture_output=True, timeout=60)
    client.login("boss", PASSWORD)
    users = list(client.iter_users(page_size=2))
    names = [u["username"] for u in users]
    assert "boss" in names and len(names) == len(set(names)) >= 3


def test_two_factor_flow(client: object) -> None:
    from gatehouse_client import InvalidParameter, TwoFactorChallenge

    _signup(client, "frank")
    secret = client.setup_2fa()["secret"]
    totp = pyotp.TOTP(secret)
    codes = client.enable_2fa(totp.now())
    assert len(codes) == 10 and client.access_token.startswith("2f.")
    assert client.me()["two_factor_enabled"] is True
    challenge = client.login("frank", PASSWORD)
    assert isinstance(challenge, TwoFactorChallenge)
    challenge.complete(codes[0])
    assert client.access_token.startswith("2f.") and client.me()["username"] == "frank"
    with pytest.raises(InvalidParameter) as info:
        client.login("frank", PASSWORD).complete(codes[0])  # recovery codes are single-use
    assert info.value.reason == "auth.totp.invalid"
    # the next step's code is inside the ±1 step window and not yet used
    client.login("frank", PASSWORD).complete(totp.at(time.time() + 30))
    assert client.me()["username"] == "frank"


def test_77_is_retried_with_backoff(tmp_path: Path) -> None:
    from gatehouse_client import DatabaseRollback, GatehouseClient

    env = server_env(f"sqlite:///{tmp_path}/missing/db.sqlite")
    for srv in running(env, workers=1):
        sleeps: list[float] = []
        with GatehouseClient(srv.url, sleep=sleeps.append, max_retries=3,
                             rng=lambda: 1.0) as c:
            with pytest.raises(DatabaseRollback) as info:
                c.health()
        assert info.value.reason == "database.connection.unavailable"
        assert sleeps == [0.5, 1.0, 2.0]  # three retries, doubling


def test_429_carries_retry_after(tmp_path: Path) -> None:
    from gatehouse_client import GatehouseClient, TooManyRequests

    env = server_env(f"sqlite:///{tmp_path}/rl.db", RATELIMIT_ENABLED="true",
                     RATELIMIT_LOGIN="2 per minute")
    migrate(env)
    for srv in running(env, workers=1):
        sleeps: list[float] = []
        with GatehouseClient(srv.url, sleep=sleeps.append) as c:
            for _ in range(2):
                with pytest.raises(Exception):
                    c.login("ghost", PASSWORD)
            with pytest.raises(TooManyRequests) as info:
                c.login("ghost", PASSWORD)
        assert info.value.retry_after and info.value.retry_after >= 1
        assert sleeps == []  # a login is a POST: not retried unless the caller opts in
