"""Query plans that do not grow with a user's history (issue 21).

A user holding 10,000 sessions (most long revoked): the per-request token
check must find its session by the primary key, and revoking the user's
sessions (password change, 2FA on/off, block) must read only the live ones:
the range revoked_at IS NULL of ix_auth_sessions_user_id_revoked_at (both
columns in the index condition). Checked with EXPLAIN
on the statements the code really sends, on SQLite, and on PostgreSQL when
TEST_DATABASE_URL names it (CI), before and after ANALYZE: a plan that needs
fresh statistics to be right is not right.
"""
from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, insert, text

from api.auth.models import AuthSession
from api.extensions import db
from api.users.models import User
from tests.helpers import Account, login, make_account

HISTORY = 10_000


def seed_history(user_id: int, count: int = HISTORY) -> None:
    """`count` older sessions of the user, nearly all revoked (one bulk insert)."""
    start = datetime(2025, 1, 1)
    rows = [{"id": uuid.uuid4().hex, "user_id": user_id, "refresh_hash": "0" * 64,
             "refresh_generation": 0, "two_factor": False,
             "created_at": start + timedelta(minutes=i),
             "last_used_at": start + timedelta(minutes=i),
             "expires_at": start + timedelta(days=30, minutes=i),
             "revoked_at": None if i % 1000 == 0 else start + timedelta(days=1, minutes=i),
             "revoked_reason": None if i % 1000 == 0 else "logout"}
            for i in range(count)]
    db.session.execute(insert(AuthSession.__table__), rows)
    db.session.commit()


def seed_users(count: int) -> None:
    """`count` other accounts (one bulk insert), so that no planner finds
    reading all of users cheaper than its primary key."""
    now = datetime(2025, 1, 1)
    rows = [{"username": f"u{i}", "username_key": f"u{i}", "email": f"u{i}@example.com",
             "email_key": f"u{i}@example.com", "password_hash": "x", "is_admin": False,
             "is_blocked": False, "totp_enabled": False, "created_at": now,
             "updated_at": now} for i in range(count)]
    db.session.execute(insert(User.__table__), rows)
    db.session.commit()


def statements_of(action: Callable[[], Any], table: str) -> list[tuple[str, Any]]:
    """The statements naming `table` that `action` sends, with their parameters."""
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any,
               _context: Any, _many: bool) -> None:
        if table in statement and not statement.lstrip().upper().startswith("EXPLAIN"):
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        action()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


def plan_of(statement: str, parameters: Any) -> str:
    """The plan as text: EXPLAIN on PostgreSQL, EXPLAIN QUERY PLAN on SQLite."""
    conn = db.session.connection()  # in-memory SQLite has the one connection
    if conn.dialect.name == "sqlite":
        rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
        return "\n".join(row[-1] for row in rows)
    rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters)
    return "\n".join(row[0] for row in rows)


def analyzed(state: str) -> None:
    if state == "analyzed":
        db.session.execute(text("ANALYZE"))
        db.session.commit()


@pytest.fixture
def heavy(app: Flask, client: FlaskClient) -> Iterator[Account]:
    """ada, signed in on a session that sits behind 10,000 older ones."""
    first = make_account(client, "ada")
    with app.app_context():
        seed_history(first.id)
        seed_users(5_000)  # neighbours: the plans must pick rows
    tokens = login(client, "ada")  # the newest session, behind the history
    yield replace(first, access_token=tokens["access_token"],
                  refresh_token=tokens["refresh_token"])


@pytest.mark.parametrize("state", ["fresh", "analyzed"])
def test_token_check_reads_the_session_by_its_primary_key(
        app: Flask, client: FlaskClient, heavy: Account, state: str) -> None:
    with app.app_context():
        analyzed(state)
        sent = statements_of(
            lambda: client.get("/v1/users/me", headers=heavy.headers), "auth_sessions")
        assert len(sent) == 1, sent  # one query per request: the token check
        plan = plan_of(*sent[0])
    if db_is_sqlite(app):
        assert "auth_sessions USING INDEX sqlite_autoindex_auth_sessions_1 (id=?)" in plan, plan
        assert "users USING INTEGER PRIMARY KEY (rowid=?)" in plan, plan
    else:
        assert "Index Scan using pk_auth_sessions on auth_sessions" in plan, plan
        assert "pk_users" in plan, plan
    assert "ix_auth_sessions_user_id_revoked_at" not in plan, plan
    assert "Seq Scan" not in plan and "SCAN " not in plan, plan


def assert_reads_the_live_range(plan: str, sqlite: bool) -> None:
    """The plan seeks (user_id, revoked_at IS NULL) in the composite index:
    it reads the live sessions only, however many revoked ones precede them."""
    if sqlite:
        assert "ix_auth_sessions_user_id_revoked_at (user_id=? AND revoked_at=?)" in plan, plan
    else:
        assert "ix_auth_sessions_user_id_revoked_at" in plan, plan
        assert any("Index Cond" in line and "revoked_at IS NULL" in line
                   for line in plan.splitlines()), plan
    assert "Seq Scan" not in plan and "SCAN " not in plan, plan


@pytest.mark.parametrize("state", ["fresh", "analyzed"])
def test_revoking_reads_only_live_sessions(
        app: Flask, client: FlaskClient, heavy: Account, state: str) -> None:
    from api.users.service import count_live_sessions, revoke_sessions

    with app.app_context():
        analyzed(state)
        sent = statements_of(lambda: revoke_sessions(heavy.id), "auth_sessions")
        assert len(sent) == 1, sent
        plans = [plan_of(*sent[0])]
        db.session.rollback()
        counted = statements_of(lambda: count_live_sessions(heavy.id), "auth_sessions")
        plans.append(plan_of(*counted[0]))
        live = count_live_sessions(heavy.id)
        db.session.rollback()
    for plan in plans:
        assert_reads_the_live_range(plan, db_is_sqlite(app))
    # the two signed-in sessions; the seeded live ones expired in 2025
    assert live == 2


@pytest.mark.parametrize("state", ["fresh", "analyzed"])
def test_the_session_list_reads_only_live_sessions(
        app: Flask, client: FlaskClient, heavy: Account, state: str) -> None:
    with app.app_context():
        analyzed(state)
        sent = statements_of(
            lambda: client.get("/v1/auth/sessions", headers=heavy.headers), "auth_sessions")
        # the token check (by primary key), then the list
        assert len(sent) == 2, sent
        plan = plan_of(*sent[1])
    assert_reads_the_live_range(plan, db_is_sqlite(app))


def test_users_show_counts_live_sessions_with_one_query(
        app: Flask, client: FlaskClient, heavy: Account) -> None:
    runner = app.test_cli_runner()
    with app.app_context():
        sent = statements_of(lambda: runner.invoke(args=["users", "show", "ada"]),
                             "auth_sessions")
    assert len(sent) == 1 and "sum(" in sent[0][0].lower(), sent
    result = runner.invoke(args=["users", "show", "ada"])
    assert "active sessions: 2" in result.output, result.output


def db_is_sqlite(app: Flask) -> bool:
    with app.app_context():
        return db.engine.dialect.name == "sqlite"


def test_the_indexes_exist(app: Flask) -> None:
    """db.create_all() builds them as the migrations do (flask db check)."""
    names = {index.name for index in AuthSession.__table__.indexes}
    assert "ix_auth_sessions_user_id_revoked_at" in names
    assert "ix_users_id_totp_sealed" in {index.name for index in User.__table__.indexes}


@pytest.mark.parametrize("state", ["fresh", "analyzed"])
def test_key_rotation_walks_the_sealed_index(app: Flask, state: str) -> None:
    """`flask users rotate-2fa-key` finds each batch through
    ix_users_id_totp_sealed, not by reading (and sorting) all of users."""
    from api.auth import twofactor

    with app.app_context():
        seed_users(5_000)
        analyzed(state)
        sent = statements_of(twofactor.rotate_secret_keys, "FROM users")
        plan = plan_of(*sent[0])
        db.session.rollback()
    assert "ix_users_id_totp_sealed" in plan, plan
    assert "Seq Scan" not in plan and "SCAN users" not in plan, plan
