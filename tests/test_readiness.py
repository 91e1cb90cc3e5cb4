"""Readiness tells the truth about the schema, and the CLI names the fix.

GET /health/ready said ok on a database never migrated, while every other
request failed with 77. It now compares the database's alembic_version with
the migration scripts' head: 77 database.schema.outdated until
`flask db upgrade` has run. The `app` fixture stamps the head after
db.create_all() (tests/conftest.py), as `flask db stamp head` would.
"""
from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask
from sqlalchemy import text

from api.extensions import db
from api.schema import migration_revisions
from tests.conftest import drop_schema, make_app
from tests.helpers import assert_error, assert_ok
from tests.server import BIN, ROOT, fresh_database, migrate, running, server_env


@pytest.fixture
def bare_app() -> Iterator[Flask]:
    """The tables of the head, no alembic_version: create_all() alone."""
    app = make_app()
    with app.app_context():
        drop_schema()
        db.create_all()
    yield app
    with app.app_context():
        drop_schema()


def stamp(app: Flask, *versions: str) -> None:
    with app.app_context():
        db.session.execute(text("CREATE TABLE IF NOT EXISTS alembic_version "
                                "(version_num VARCHAR(32) NOT NULL PRIMARY KEY)"))
        db.session.execute(text("DELETE FROM alembic_version"))
        for version in versions:
            db.session.execute(text("INSERT INTO alembic_version VALUES (:v)"), {"v": version})
        db.session.commit()


def ready(app: Flask) -> Any:
    return app.test_client().get("/health/ready")


def test_unmigrated_database_is_not_ready(bare_app: Flask) -> None:
    meta = assert_error(ready(bare_app), 77, "database.schema.outdated")
    assert "flask --app wsgi db upgrade" in meta["description"]


def test_ready_at_the_head_only(bare_app: Flask) -> None:
    heads, every = migration_revisions()
    stamp(bare_app, *heads)
    assert assert_ok(ready(bare_app)) == {"status": "ok", "database": "ok"}
    older = sorted(every - heads)
    assert older, "the migrations have more than one revision"
    stamp(bare_app, older[0])
    assert_error(ready(bare_app), 77, "database.schema.outdated")
    stamp(bare_app)  # an empty alembic_version
    assert_error(ready(bare_app), 77, "database.schema.outdated")


def test_a_newer_schema_is_ready(bare_app: Flask) -> None:
    """Migrated by a later release (its migrations run before its rollout):
    this release keeps serving rather than leave the pool empty."""
    stamp(bare_app, "ffffffffffff")
    assert_ok(ready(bare_app))


def test_the_test_fixture_is_at_the_head(client: Any) -> None:
    assert_ok(client.get("/health/ready"))


@pytest.mark.slow
def test_ready_through_gunicorn_before_and_after_upgrade(tmp_path: Path) -> None:
    with fresh_database(tmp_path, "ready") as url:
        env = server_env(url)
        for server in running(env, workers=1):
            status, _, body = server.call("GET", "/health/ready")
            assert (status, body["meta"]["code"], body["meta"]["reason"]) == (
                500, 77, "database.schema.outdated")
            assert server.call("GET", "/health/live")[0] == 200
            migrate(env)  # no restart needed
            status, _, body = server.call("GET", "/health/ready")
            assert (status, body["data"]) == (200, {"status": "ok", "database": "ok"})


def test_cli_on_an_unmigrated_database_names_the_fix(tmp_path: Path) -> None:
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/empty.db")
    result = app.test_cli_runner().invoke(args=["users", "list"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: the database has no schema at sqlite:///{tmp_path}/empty.db: "
        f"run `flask --app wsgi db upgrade`"]


def test_cli_on_an_older_schema_names_the_fix(tmp_path: Path) -> None:
    """A column this release reads is missing: the schema predates a migration."""
    url = f"sqlite:///{tmp_path}/old.db"
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.create_all()
        with db.engine.begin() as conn:
            conn.execute(text("ALTER TABLE users DROP COLUMN display_name"))
    result = app.test_cli_runner().invoke(args=["users", "list"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"Error: the database schema at {url} is older than this release: "
        f"run `flask --app wsgi db upgrade`"]


@pytest.mark.slow
def test_cli_error_names_the_fix_and_hides_the_password(tmp_path: Path) -> None:
    """As an admin runs it; a PostgreSQL URL's password is never printed."""
    with fresh_database(tmp_path, "cli") as url:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        if parsed.get_backend_name() == "postgresql":
            url = parsed.set(password="pw-secret-1").render_as_string(hide_password=False)
        result = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "users", "show", "ada"],
                                cwd=ROOT, env=server_env(url), capture_output=True, text=True,
                                timeout=60)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert lines[0].startswith("Error: the database has no schema at ")
    assert lines[0].endswith(": run `flask --app wsgi db upgrade`")
    assert "pw-secret-1" not in result.stderr
