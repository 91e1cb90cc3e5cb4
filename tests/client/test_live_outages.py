"""77 and 429 from real servers: a database that is not there, and a tight login limit.

(500 cannot be caused on a healthy server on purpose; test_retries.py covers it.)
"""
from __future__ import annotations

from pathlib import Path

import pytest

from gatehouse_client import (
    DatabaseRollback, GatehouseClient, TooManyRequests, UserNotExists)
from tests.client.live import PASSWORD, Recorder, migrate, running, server_env

pytestmark = pytest.mark.slow


def test_77_is_retried_with_backoff_until_the_database_is_back(tmp_path: Path) -> None:
    # a SQLite file in a directory that does not exist yet: every query fails (77).
    # (Making a directory unreadable would not do: these tests may run as root.)
    data = tmp_path / "data"
    env = server_env(f"sqlite:///{data / 'gatehouse.db'}")
    with running(env, tmp_path / "gunicorn.log", workers=1) as server:
        sleeps = Recorder()
        with GatehouseClient(server.url, sleep=sleeps, max_retries=3, rng=lambda: 1.0) as c:
            with pytest.raises(DatabaseRollback) as info:
                c.health()
            assert (info.value.status, info.value.reason) == (
                500, "database.connection.unavailable")
            assert info.value.request_id and "sqlite" not in info.value.description.lower()
            assert sleeps == [0.5, 1.0, 2.0]  # three retries, doubling, then it gives up

            sleeps.clear()
            with pytest.raises(DatabaseRollback):
                c.register("ada", "ada@example.com", PASSWORD)  # a POST: not retried
            assert sleeps == []

        def database_comes_back(seconds: float) -> None:
            sleeps.append(seconds)
            if len(sleeps) == 1:
                data.mkdir()
                migrate(env)

        sleeps.clear()
        with GatehouseClient(server.url, sleep=database_comes_back, rng=lambda: 1.0) as c:
            assert c.health() == {"status": "ok", "database": "ok"}
            assert sleeps == [0.5]
            assert c.register("ada", "ada@example.com", PASSWORD)["username"] == "ada"


def test_429_carries_retry_after_and_is_waited_out_when_allowed(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path / 'rl.db'}", RATELIMIT_ENABLED="true",
                     RATELIMIT_LOGIN="2 per minute")
    migrate(env)
    # one worker: the default (memory) limiter storage is per process
    with running(env, tmp_path / "gunicorn.log", workers=1) as server:
        sleeps = Recorder()
        with GatehouseClient(server.url, sleep=sleeps) as c:
            for _ in range(2):
                with pytest.raises(UserNotExists):
                    c.login("ghost", PASSWORD)
            with pytest.raises(TooManyRequests) as info:
                c.login("ghost", PASSWORD)
            error = info.value
            assert (error.status, error.code, error.reason) == (429, 429, "request.rate.limited")
            # a 60 s window, but Flask-Limiter rounds its reset time up a second: up to 61
            assert 1 <= error.retry_after <= 62
            assert sleeps == []  # a login is a POST: not retried unless the caller opts in

            with pytest.raises(TooManyRequests) as info:
                c.request("POST", "/v1/auth/login", {"login": "ghost", "password": PASSWORD},
                          auth=False, retry_unsafe=True)
            # each retry waited what the server's Retry-After said (the recorder never waits)
            assert len(sleeps) == 3 and all(1 <= s <= 62 and s == int(s) for s in sleeps)
            assert sleeps[-1] >= info.value.retry_after
