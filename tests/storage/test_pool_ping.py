"""Pre-ping only where it pays (api/db.py ping_idle_connections): a pooled
PostgreSQL connection is tested with a round trip only after sitting idle
DB_POOL_PING_IDLE_S seconds, so a connection the server dropped while it
waited is replaced before a request meets it, and a busy pool spends no
round trip per request."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from flask import Flask

from api.extensions import db
from tests.conftest import make_app
from tests.helpers import assert_error, assert_ok, make_account
from tests.server import NOT_PG, ON_PG, fresh_database, terminate_backends

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(not ON_PG, reason=NOT_PG)]


@pytest.fixture
def pg_app(tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """An app on a database of its own (its backends are killed), with one
    pooled connection, so the request after a kill gets the killed one."""
    with fresh_database(tmp_path, "ping") as url:
        def build(**settings: Any) -> Flask:
            app = make_app(SQLALCHEMY_DATABASE_URI=url, DB_POOL_SIZE=1, DB_MAX_OVERFLOW=0,
                           **settings)
            with app.app_context():
                db.create_all()
            return app

        yield build


def kill_backends(app: Flask) -> int:
    """Every server backend of the app's database, its pooled connection included."""
    return terminate_backends(app.config["SQLALCHEMY_DATABASE_URI"])


def pings(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one per round trip the pool spends on a test."""
    calls: list[int] = []
    with app.app_context():
        dialect = db.engine.dialect
    real = dialect.do_ping

    def counting(dbapi_connection: Any) -> bool:
        calls.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counting)
    return calls


def test_a_connection_dropped_while_idle_is_replaced_before_use(
        pg_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch) -> None:
    app = pg_app(DB_POOL_PING_IDLE_S=0.2)
    client = app.test_client()
    account = make_account(client)
    assert_ok(client.get("/v1/users/me", headers=account.headers))
    calls = pings(app, monkeypatch)
    assert kill_backends(app) >= 1
    time.sleep(0.3)
    assert_ok(client.get("/v1/users/me", headers=account.headers))
    assert calls == [1]  # the failed test: the pool reconnected, with no second test


def test_a_busy_pool_spends_no_round_trip_on_tests(pg_app: Callable[..., Flask],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app = pg_app(DB_POOL_PING_IDLE_S=30)
    client = app.test_client()
    account = make_account(client)
    calls = pings(app, monkeypatch)
    for _ in range(5):
        assert_ok(client.get("/v1/users/me", headers=account.headers))
    assert calls == []
    # and what that costs: a connection dropped moments after its last use
    # answers the request that meets it 77, and the pool starts afresh
    kill_backends(app)
    r = client.get("/v1/users/me", headers=account.headers)
    assert_error(r, 77, "database.connection.unavailable")
    assert_ok(client.get("/v1/users/me", headers=account.headers))


@pytest.mark.parametrize("settings,tested", [
    ({"DB_POOL_PING_IDLE_S": 0}, True),  # SQLAlchemy's own pre-ping: every checkout
    ({"DB_POOL_PRE_PING": False, "DB_POOL_PING_IDLE_S": 0.2}, False),
])
def test_the_other_settings(pg_app: Callable[..., Flask], monkeypatch: pytest.MonkeyPatch,
                            settings: dict[str, Any], tested: bool) -> None:
    app = pg_app(**settings)
    client = app.test_client()
    account = make_account(client)
    assert_ok(client.get("/v1/users/me", headers=account.headers))
    calls = pings(app, monkeypatch)
    time.sleep(0.3)
    assert_ok(client.get("/v1/users/me", headers=account.headers))
    assert bool(calls) is tested
