"""Fixtures in the pallets tutorial's shape: app, client, runner.

The database is SQLite in memory unless TEST_DATABASE_URL names another
one (PostgreSQL in CI); the schema is created fresh for every test.
"""
from __future__ import annotations

import logging
import os
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from api import create_app
from api.extensions import db


_apps: list[Flask] = []


def make_app(**overrides: Any) -> Flask:
    """A testing app; its connections are closed when the test ends."""
    settings: dict[str, Any] = {"RATELIMIT_ENABLED": False}
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        settings["SQLALCHEMY_DATABASE_URI"] = url
    settings.update(overrides)
    app = create_app("testing", **settings)
    _apps.append(app)
    return app


@pytest.fixture(autouse=True)
def _close_app_connections() -> Iterator[None]:
    yield
    while _apps:
        with _apps.pop().app_context():
            db.session.remove()
            db.engine.dispose()


def stamp_head() -> None:
    """Record the migration head in alembic_version, as `flask db stamp head`
    does: db.create_all() built the head's schema but says nothing of it,
    and readiness (GET /health/ready) checks the recorded revision."""
    from sqlalchemy import text

    from api.schema import migration_revisions

    db.session.execute(text("CREATE TABLE IF NOT EXISTS alembic_version "
                            "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
    db.session.execute(text("DELETE FROM alembic_version"))
    for head in sorted(migration_revisions()[0]):
        db.session.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": head})
    db.session.commit()


def drop_schema() -> None:
    from sqlalchemy import text

    db.session.remove()
    db.drop_all()
    with db.engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def settings() -> dict[str, Any]:
    """Overrides for the `app` fixture's settings: a module or a test
    redefines this (or parametrizes it) to run against other settings."""
    return {}


@pytest.fixture
def app(settings: dict[str, Any]) -> Iterator[Flask]:
    app = make_app(**settings)
    with app.app_context():
        db.drop_all()
        db.create_all()
        stamp_head()
    yield app
    with app.app_context():
        drop_schema()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def api_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Every record of the "api" loggers at DEBUG (they do not propagate, so
    caplog alone sees none). An app built inside the test sets its own level."""
    logger = logging.getLogger("api")
    level = logger.level
    logger.addHandler(caplog.handler)
    logger.setLevel(logging.DEBUG)
    caplog.handler.setLevel(logging.DEBUG)
    yield caplog
    logger.removeHandler(caplog.handler)
    logger.setLevel(level)
