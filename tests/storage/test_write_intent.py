"""Write intent is declared by the view (api.db.writes), not guessed from the method.

On SQLite a declared writer begins with BEGIN IMMEDIATE (the one write lock,
queued on the busy timeout); any other request reads in a deferred
transaction. Outside a request (the CLI) a transaction may always write.
"""
from __future__ import annotations

from typing import Any, Iterator

import pytest
from flask import Blueprint, Flask
from sqlalchemy import event, text

from api.db import writes
from api.extensions import db
from api.responses import ok
from tests.conftest import make_app

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def test_every_writing_route_declares_it() -> None:
    """Every POST/PUT/PATCH/DELETE view of the app writes today: each must say so."""
    app = make_app()
    undeclared = sorted(
        f"{sorted(rule.methods & WRITE_METHODS)} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.methods & WRITE_METHODS
        and not getattr(app.view_functions[rule.endpoint], "writes", False))
    assert undeclared == []


def _probe(app: Flask) -> None:
    bp = Blueprint("intent", __name__, url_prefix="/intent")

    @bp.get("/declared")
    @writes
    def declared_get() -> Any:
        return ok(db.session.execute(text("SELECT 1")).scalar())

    @bp.post("/undeclared")
    def undeclared_post() -> Any:
        return ok(db.session.execute(text("SELECT 1")).scalar())

    app.register_blueprint(bp)


@pytest.fixture
def statements() -> Iterator[tuple[Flask, list[str]]]:
    app = make_app()
    _probe(app)
    seen: list[str] = []
    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            pytest.skip("lock modes are SQLite's (PostgreSQL needs no BEGIN IMMEDIATE)")
        event.listen(db.engine, "before_cursor_execute",
                     lambda _c, _cur, sql, *_: seen.append(sql))
    yield app, seen


def test_a_declared_writer_takes_the_write_lock_whatever_its_method(
        statements: tuple[Flask, list[str]]) -> None:
    app, seen = statements
    assert app.test_client().get("/intent/declared").status_code == 200
    assert "BEGIN IMMEDIATE" in seen


def test_an_undeclared_view_reads_deferred_whatever_its_method(
        statements: tuple[Flask, list[str]]) -> None:
    app, seen = statements
    assert app.test_client().post("/intent/undeclared").status_code == 200
    assert "SELECT 1" in seen and "BEGIN IMMEDIATE" not in seen


def test_outside_a_request_a_transaction_may_write(
        statements: tuple[Flask, list[str]]) -> None:
    app, seen = statements
    with app.app_context():
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    assert "BEGIN IMMEDIATE" in seen
