"""The client is a package of its own in client/: import it from there (no install step).

`server` is one gunicorn for the whole session (SQLite file, migrated with
`flask db upgrade`); tests make their own users, so they share it safely.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Iterator

import pytest

from tests.client.live import (
    CLIENT_DIR, PASSWORD, Recorder, Server, flask, migrate, running, server_env, unique)

if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))

if TYPE_CHECKING:
    from gatehouse_client import GatehouseClient


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("client-live")
    env = server_env(f"sqlite:///{work / 'gatehouse.db'}")
    migrate(env)
    with running(env, work / "gunicorn.log", workers=2) as srv:
        yield srv


@pytest.fixture
def sleeps() -> Recorder:
    return Recorder()


@pytest.fixture
def gate(server: Server, sleeps: Recorder) -> Iterator["GatehouseClient"]:
    """A client of the session's server whose retries wait for nothing."""
    from gatehouse_client import GatehouseClient

    with GatehouseClient(server.url, sleep=sleeps) as client:
        yield client


@pytest.fixture
def other(server: Server) -> Iterator["GatehouseClient"]:
    """A second client (another device of the same user, or another user)."""
    from gatehouse_client import GatehouseClient

    with GatehouseClient(server.url, sleep=Recorder()) as client:
        yield client


@pytest.fixture(scope="session")
def admin(server: Server) -> tuple[str, str]:
    """Login and password of an admin made with `flask users create --admin`."""
    name = unique("boss")
    flask(server.env, "users", "create", name, f"{name}@example.com", "--password", PASSWORD,
          "--admin")
    return name, PASSWORD
