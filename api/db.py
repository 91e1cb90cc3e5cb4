"""Engine settings for real deployments, per database dialect."""
from __future__ import annotations

from typing import Any

from flask import Flask, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url

from api.extensions import db


def engine_options(config: dict[str, Any]) -> dict[str, Any]:
    """SQLALCHEMY_ENGINE_OPTIONS for the configured database URL."""
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    # statement parameters hold hashes and token digests: keep them out of
    # logs and exception text
    if url.get_backend_name() == "sqlite":
        return {"hide_parameters": True,
                "connect_args": {"timeout": config["SQLITE_BUSY_TIMEOUT_MS"] / 1000}}
    options: dict[str, Any] = {
        "hide_parameters": True,
        "pool_pre_ping": True,
        "pool_size": config["DB_POOL_SIZE"],
        "max_overflow": config["DB_MAX_OVERFLOW"],
        "pool_recycle": config["DB_POOL_RECYCLE"],
    }
    if url.get_backend_name() == "postgresql" and config["DB_STATEMENT_TIMEOUT_MS"]:
        options["connect_args"] = {
            "options": f"-c statement_timeout={config['DB_STATEMENT_TIMEOUT_MS']}",
            "connect_timeout": 5,
        }
    return options


def register_engine_events(app: Flask, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    busy_ms = app.config["SQLITE_BUSY_TIMEOUT_MS"]
    in_memory = engine.url.database in (None, "", ":memory:")

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
        # let SQLAlchemy's "begin" event below emit BEGIN itself
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        # reads run as pysqlite runs them by default (no explicit BEGIN)
        if _may_write():
            conn.exec_driver_sql("BEGIN IMMEDIATE")


_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _may_write() -> bool:
    """Writers take SQLite's write lock up front (BEGIN IMMEDIATE), so two
    concurrent writers queue on the busy timeout instead of one failing when
    it upgrades a read lock; reads stay deferred and run side by side."""
    return not has_request_context() or request.method not in _READ_METHODS


def end_read_transaction() -> None:
    """End the request's transaction before work that needs no database and
    takes long: argon2 (0.15-0.25 s of CPU a hash).

    A request that may write holds SQLite's one write lock from its first
    query to its commit (BEGIN IMMEDIATE, above): a hash inside it would make
    every writer of every worker wait, logins would run one at a time however
    many cores there are, and a queue of them longer than
    SQLITE_BUSY_TIMEOUT_MS would fail the writers behind it with 77. On
    PostgreSQL it keeps a pooled connection from idling in a transaction.

    Only for a transaction that has read and not written: nothing is undone.
    What it read is expired, and loads again (in a new transaction) when used,
    so read what the slow work needs first, and check afterwards that it is
    unchanged.
    """
    session = db.session
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("end_read_transaction() with changes not yet written")
    session.rollback()
