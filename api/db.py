"""Engine settings for real deployments, per database dialect."""
from __future__ import annotations

import logging
import time
from typing import Any, Callable, TypeVar

from flask import Flask, current_app, has_request_context, request
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DisconnectionError, SQLAlchemyError

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
        # SQLAlchemy's own pre-ping tests every checkout; with an idle
        # threshold, register_engine_events tests only connections that sat
        # in the pool that long (see there)
        "pool_pre_ping": config["DB_POOL_PRE_PING"] and not config["DB_POOL_PING_IDLE_S"],
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
        if app.config["DB_POOL_PRE_PING"] and app.config["DB_POOL_PING_IDLE_S"]:
            ping_idle_connections(engine, app.config["DB_POOL_PING_IDLE_S"])
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
        if _declares_write():
            conn.exec_driver_sql("BEGIN IMMEDIATE")


def ping_idle_connections(engine: Engine, idle_s: float) -> None:
    """Test a pooled connection with a round trip before a request uses it,
    but only if it sat in the pool at least idle_s seconds.

    A connection the server dropped (a restart, an idle timeout, a proxy's)
    is one that waited: under traffic a connection goes back to work within
    milliseconds, and SQLAlchemy's pre-ping would spend a round trip on every
    request to test it. A failed test is a DisconnectionError, on which the pool drops
    the connection and checks out another (the pattern of SQLAlchemy's
    "Disconnect Handling - Pessimistic"). A connection dropped while in use
    or between two requests moments apart answers its request 77, and the
    pool then drops every connection as old as it.
    """
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_conn: Any, record: Any) -> None:
        record.info["gatehouse_idle_from"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("gatehouse_idle_from")
        if since is None or time.monotonic() - since < idle_s:
            return  # a new connection, or one back from work moments ago
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as err:  # whatever the driver raises: not usable
            raise DisconnectionError() from err  # the pool replaces it


F = TypeVar("F", bound=Callable[..., Any])


def writes(view: F) -> F:
    """Declare that a view writes to the database.

    On SQLite such a request's transactions take the one write lock when they
    begin (BEGIN IMMEDIATE): two writers then queue on the busy timeout
    instead of one failing with 77 when it upgrades a read lock. Other
    requests only read: on SQLite their statements run as pysqlite runs
    them, each on its own, side by side (so a view that writes without the
    mark would not write atomically). The mark is read off the routed view,
    so it may sit anywhere among decorators that use functools.wraps.
    """
    view.writes = True  # type: ignore[attr-defined]
    return view


def _declares_write() -> bool:
    """A request runs as its view declares; outside one (the CLI, scripts)
    a transaction may always write."""
    if not has_request_context():
        return True
    view = current_app.view_functions.get(request.endpoint)  # type: ignore[arg-type]
    return getattr(view, "writes", False)


def end_read_transaction() -> None:
    """End the request's transaction before work that needs no database and
    takes long: argon2 (a large part of a second of CPU per hash).

    A request that writes holds SQLite's one write lock from its first
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


log = logging.getLogger("api.db")


def end_session() -> None:
    """End the request's session, however its connection is.

    Called while the request is still current (Gatehouse.do_teardown_request),
    before Flask-SQLAlchemy's own teardown, which then finds nothing to do.
    Closing rolls back what a read left open; on a connection the database
    has dropped (a restart, pg_terminate_backend) that rollback fails, and
    raised from a teardown it would turn an answer already made (a 200 from
    the rows read, or the 77 the error handler wrote) into a bare 500 from
    the server, with no request id. Here it is logged with the request id,
    the session's connections are discarded (the pool opens new ones), and
    the answer stands: nothing was written that the failed rollback undoes.
    """
    registry = db.session.registry
    if not registry.has():
        return
    try:
        db.session.remove()
    except SQLAlchemyError:
        log.warning("closing the database session failed; its connection is discarded",
                    exc_info=True)
        try:
            registry().invalidate()
        except SQLAlchemyError:  # the connection is already unusable: let it go
            pass
        registry.clear()
