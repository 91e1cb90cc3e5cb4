"""Storage under gunicorn: races, mixed load, faults, two instances sharing state.

Runs on a SQLite file, and on PostgreSQL too when TEST_DATABASE_URL names one
(each test gets its own fresh database, dropped afterwards).
"""
from __future__ import annotations

import sqlite3
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

from tests.helpers import at_once, require_redis
from tests.server import (
    NOT_PG, ON_PG, ONLY_SQLITE, Gunicorn, fresh_database, migrate, running,
    server_env, terminate_backends)

pytestmark = pytest.mark.slow

PASSWORD = "password-123"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database URL of the kind this run tests."""
    with fresh_database(tmp_path, "load") as url:
        migrate(server_env(url))
        yield url


@pytest.fixture
def server(database: str) -> Iterator[Gunicorn]:
    yield from running(server_env(database), workers=3)


def register(server: Gunicorn, name: str, email: str | None = None) -> tuple[int, dict]:
    status, _, body = server.call("POST", "/v1/auth/register", {
        "username": name, "email": email or f"{name}@example.com", "password": PASSWORD})
    return status, body["meta"]


def login(server: Gunicorn, name: str) -> dict:
    status, _, body = server.call("POST", "/v1/auth/login", {"login": name, "password": PASSWORD})
    assert status == 200, body
    return {"Authorization": "Bearer " + body["data"]["access_token"]}


def test_racing_registrations_of_one_username(server: Gunicorn) -> None:
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: register(server, "samename", f"s{i}@example.com"),
                                range(40)))
    outcomes = Counter((status, meta["code"], meta.get("reason")) for status, meta in results)
    assert outcomes == {(200, 200, None): 1, (400, 88, "user.username.taken"): 39}


def test_racing_registrations_of_one_email(server: Gunicorn) -> None:
    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda i: register(server, f"user{i:03d}", "Same@Example.com"),
                                range(30)))
    outcomes = Counter((status, meta.get("reason")) for status, meta in results)
    assert outcomes == {(200, None): 1, (400, "user.email.taken"): 29}


def test_mixed_load_loses_nothing(server: Gunicorn) -> None:
    """Many clients register, log in, read and update; every acknowledged write stays."""
    def client(i: int) -> list[tuple[str, int]]:
        seen = []
        name = f"load{i:03d}"
        status, _ = register(server, name)
        seen.append(("register", status))
        if status != 200:
            return seen
        auth = login(server, name)
        for n in range(3):
            status, _, body = server.call("PATCH", "/v1/users/me",
                                          {"display_name": f"{name}-{n}"}, headers=auth)
            seen.append(("patch", status))
            status, _, body = server.call("GET", "/v1/users/me", headers=auth)
            seen.append(("read", status))
            assert body["data"]["display_name"] == f"{name}-{n}"  # read-your-writes
        return seen

    with ThreadPoolExecutor(12) as pool:
        results = [op for ops in pool.map(client, range(36)) for op in ops]
    assert Counter(status for _, status in results) == {200: len(results)}
    assert len(results) == 36 * 7
    # afterwards: every account and its last update are there
    admin = _admin_headers(server)
    status, _, body = server.call("GET", "/v1/users?limit=100", headers=admin)
    names = {u["username"]: u["display_name"] for u in body["data"]}
    for i in range(36):
        assert names[f"load{i:03d}"] == f"load{i:03d}-2"


def _admin_headers(server: Gunicorn) -> dict:
    import subprocess

    from tests.server import BIN, ROOT

    env = server.env
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "users", "create", "root",
                    "root@example.com", "--password", PASSWORD, "--admin"],
                   cwd=ROOT, env=env, check=True, capture_output=True, timeout=60)
    return login(server, "root")


@pytest.mark.skipif(ON_PG, reason=f"{ONLY_SQLITE} (its own test is below)")
def test_locked_sqlite_answers_77_and_recovers(database: str) -> None:
    env = server_env(database, SQLITE_BUSY_TIMEOUT_MS="300")
    for srv in running(env, workers=2):
        assert register(srv, "before")[0] == 200
        holder = sqlite3.connect(database.removeprefix("sqlite:///"), isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            status, meta = register(srv, "during")
            assert (status, meta["code"], meta["reason"]) == (500, 77, "database.query.timeout")
            # WAL: readers are not blocked by the writer holding the lock
            assert srv.call("GET", "/health/ready")[0] == 200
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert register(srv, "after")[0] == 200
        # nothing half-written: "during" does not exist, it can register now
        assert register(srv, "during")[0] == 200


@pytest.mark.skipif(ON_PG, reason=f"{ONLY_SQLITE} (SQLite's one write lock)")
def test_logins_hashing_do_not_hold_up_writers(database: str) -> None:
    """A login's argon2 runs with no transaction open: 16 logins at the
    production cost, at once, while another account writes. When the hash ran
    inside the login's write transaction, logins took SQLite's lock one at a
    time and the writes waited past the busy timeout behind them (77)."""
    env = server_env(database, SQLITE_BUSY_TIMEOUT_MS="1000", ARGON2_TIME_COST="3",
                     ARGON2_MEMORY_COST="65536", ARGON2_PARALLELISM="4")
    for srv in running(env, workers=2):
        assert register(srv, "writer")[0] == 200
        assert register(srv, "busy")[0] == 200
        auth = login(srv, "writer")

        def write(n: int) -> int:
            return srv.call("PATCH", "/v1/users/me", {"display_name": f"w{n}"},
                            headers=auth)[0]

        with ThreadPoolExecutor(20) as pool:
            logins = [pool.submit(login, srv, "busy") for _ in range(16)]
            time.sleep(0.2)  # the logins are hashing
            writes = [pool.submit(write, n) for n in range(4)]
            assert [w.result() for w in writes] == [200] * 4
            assert all("Authorization" in f.result() for f in logins)


@pytest.mark.postgres
@pytest.mark.skipif(not ON_PG, reason=NOT_PG)
def test_postgres_backends_terminated_then_recovered(database: str, server: Gunicorn) -> None:
    """Connections the server dropped (a restart, a failover, an admin's
    kill) are replaced without restarting anything. One that sat idle
    DB_POOL_PING_IDLE_S (1 s) is tested before use: no request sees it. One
    dropped moments after its last use costs the request that meets it a 77
    (the client retries a 77), once per worker: the pool then drops every
    connection as old as it."""
    def kill_backends() -> None:
        assert terminate_backends(database) >= 1

    def me_statuses(n: int) -> list[tuple[int, int]]:
        answers = [server.call("GET", "/v1/users/me", headers=auth) for _ in range(n)]
        return [(status, body["meta"]["code"]) for status, _, body in answers]

    assert register(server, "first")[0] == 200
    auth = login(server, "first")
    assert me_statuses(6) == [(200, 200)] * 6  # every worker's pool holds a connection
    kill_backends()
    time.sleep(1.5)  # idle past DB_POOL_PING_IDLE_S: tested, and replaced, before use
    assert me_statuses(12) == [(200, 200)] * 12

    kill_backends()  # moments after use: not tested
    answers = me_statuses(24)
    failed = [a for a in answers if a != (200, 200)]
    # a 77 at most once per worker (3): each recovers after its first
    assert set(failed) <= {(500, 77)} and len(failed) <= 3, answers
    assert register(server, "second")[0] == 200


@pytest.mark.postgres
@pytest.mark.skipif(not ON_PG, reason=NOT_PG)
def test_postgres_lock_times_out_as_77(database: str) -> None:
    import psycopg

    env = server_env(database, DB_STATEMENT_TIMEOUT_MS="500")
    for srv in running(env, workers=2):
        assert register(srv, "before")[0] == 200
        auth = login(srv, "before")
        dsn = database.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn) as holder:
            holder.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
            started = time.monotonic()
            status, _, body = srv.call("GET", "/v1/users/me", headers=auth)
            assert (status, body["meta"]["code"]) == (500, 77)
            assert body["meta"]["reason"] == "database.query.timeout"
            assert time.monotonic() - started < 10
            status, meta = register(srv, "during")
            assert (status, meta["code"]) == (500, 77)
            holder.rollback()
        assert srv.call("GET", "/v1/users/me", headers=auth)[0] == 200
        assert register(srv, "during")[0] == 200  # the timed-out attempt left nothing


def test_database_gone_answers_77(tmp_path: Path) -> None:
    """A database that cannot be reached: 77 on every path, the service stays up."""
    url = ("postgresql+psycopg://postgres@127.0.0.1:1/none" if ON_PG
           else f"sqlite:///{tmp_path}/no-such-dir/db.sqlite")
    for srv in running(server_env(url), workers=1):
        status, _, body = srv.call("GET", "/health/ready")
        assert (status, body["meta"]["code"]) == (500, 77)
        assert body["meta"]["reason"] == "database.connection.unavailable"
        status, meta = register(srv, "nobody")
        assert (status, meta["code"]) == (500, 77)
        assert srv.call("GET", "/health/live")[0] == 200


def test_two_instances_share_sessions_and_rate_limits(database: str) -> None:
    """Two gunicorn instances (two workers each) on one Redis share sessions
    and the failure counts, even after bodies no storage key could hold
    (a lone surrogate once made a worker drop to its own memory counters)."""
    redis_url = require_redis()
    env = server_env(database, REDIS_URL=redis_url, RATELIMIT_ENABLED="true",
                     RATELIMIT_KEY_PREFIX=f"gh-test-{uuid.uuid4().hex}",
                     RATELIMIT_LOGIN="1000 per minute", AUTH_FAILURES_FREE="2",
                     AUTH_BACKOFF_BASE="60")
    a_iter, b_iter = running(env, workers=2), running(env, workers=2)
    a, b = next(a_iter), next(b_iter)
    try:
        assert register(a, "shared")[0] == 200
        auth = login(a, "shared")
        assert b.call("GET", "/v1/users/me", headers=auth)[0] == 200
        assert b.call("POST", "/v1/auth/logout", headers=auth)[0] == 200
        status, _, body = a.call("GET", "/v1/users/me", headers=auth)
        assert (status, body["meta"]["reason"]) == (401, "auth.token.revoked")
        hostile = b'{"login": "\\ud800shared", "password": "whatever-pass"}'
        for server in (a, b, a, b, a, b):
            status, _, body = server.call("POST", "/v1/auth/login", raw=hostile)
            assert status < 500, body
        wrong = {"login": "shared", "password": "not the password"}
        for server in (b, a, b):  # 2 free failures, the 3rd earns a 60 s wait
            status, _, body = server.call("POST", "/v1/auth/login", wrong)
            assert (status, body["meta"]["code"]) == (400, 22), body
        for server in (a, b, a, b):  # whichever worker answers: the owner waits
            status, headers, body = server.call("POST", "/v1/auth/login",
                                                {"login": "shared", "password": PASSWORD})
            assert (status, body["meta"]["reason"]) == (429, "auth.attempts.too_many")
            assert 1 <= int(headers["Retry-After"]) <= 60
    finally:
        for it in (a_iter, b_iter):
            it.close()


def test_concurrent_refresh_of_one_token_has_one_winner(server: Gunicorn) -> None:
    assert register(server, "rotator")[0] == 200
    status, _, body = server.call("POST", "/v1/auth/login",
                                  {"login": "rotator", "password": PASSWORD})
    token = body["data"]["refresh_token"]

    def refresh(_: int) -> tuple[int, str | None]:
        status, _, body = server.call("POST", "/v1/auth/refresh", {"refresh_token": token})
        return status, body["meta"].get("reason")

    outcomes = Counter(at_once(8, refresh))
    # the losers were superseded, the session (and the winner's pair) kept:
    # tests/storage/test_auth_races.py follows the winner's pair further
    assert outcomes == {(200, None): 1, (401, "auth.refresh.superseded"): 7}
