"""The data migration of TOTP secrets, run as an operator runs it (`flask db`),
on SQLite and, when TEST_DATABASE_URL names it, on a PostgreSQL database of
its own."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from tests.server import BIN, ON_PG, ROOT, fresh_database, server_env

# runs `flask db` in subprocesses, migration by migration
pytestmark = pytest.mark.slow

BEFORE = "85f705500721"  # the revision that stored secrets in plain base32
SECRET, PENDING = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
KEY = Fernet.generate_key().decode()


def flask_db(url: str, *args: str) -> None:
    env = server_env(url, TOTP_ENCRYPTION_KEYS=KEY)
    out = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", *args], cwd=ROOT,
                         env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]


def secrets_in(url: str) -> list[tuple[str | None, str | None]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(
                "SELECT totp_secret, totp_pending_secret FROM users ORDER BY id"))]
    finally:
        engine.dispose()


def test_secrets_stored_in_plain_are_encrypted_and_decrypted_back(tmp_path: Path) -> None:
    with fresh_database(tmp_path, "migrate") as url:
        flask_db(url, "upgrade", BEFORE)
        engine = create_engine(url)
        with engine.begin() as conn:
            for name, secret, pending in (("ada", SECRET, None), ("bob", None, PENDING),
                                          ("cy", None, None)):
                conn.execute(text(
                    "INSERT INTO users (username, username_key, email, email_key, "
                    "password_hash, is_admin, is_blocked, totp_enabled, totp_secret, "
                    "totp_pending_secret, created_at, updated_at) VALUES (:n, :n, :e, :e, "
                    "'h', false, false, :on, :s, :p, '2026-01-01', '2026-01-01')"),
                    {"n": name, "e": f"{name}@example.com", "on": secret is not None,
                     "s": secret, "p": pending})
        engine.dispose()
        flask_db(url, "upgrade")
        rows = secrets_in(url)
        box = Fernet(KEY)
        assert box.decrypt(rows[0][0].encode()).decode() == SECRET and rows[0][1] is None
        assert rows[1][0] is None and box.decrypt(rows[1][1].encode()).decode() == PENDING
        assert rows[2] == (None, None)
        assert SECRET not in str(rows) and PENDING not in str(rows)
        flask_db(url, "upgrade")  # at head: nothing runs twice
        assert secrets_in(url) == rows
        flask_db(url, "downgrade", BEFORE)
        assert secrets_in(url) == [(SECRET, None), (None, PENDING), (None, None)]
        flask_db(url, "downgrade", "base")


AUTOINCREMENT_TABLES = ("users", "security_events", "account_tokens", "mail_outbox")


def test_ids_are_never_reused_after_every_migration_from_the_first(tmp_path: Path) -> None:
    """Every migration from an empty database, then: the newest account
    deleted, the next sign-up gets a new id (README: ids are never reused).
    An earlier batch rebuild of users had dropped SQLite's AUTOINCREMENT."""
    with fresh_database(tmp_path, "ids") as url:
        flask_db(url, "upgrade")
        engine = create_engine(url)
        insert = text(
            "INSERT INTO users (username, username_key, email, email_key, password_hash, "
            "is_admin, is_blocked, totp_enabled, created_at, updated_at) VALUES "
            "(:n, :n, :e, :e, 'h', false, false, false, '2026-01-01', '2026-01-01') "
            "RETURNING id")
        try:
            with engine.begin() as conn:
                ids = [conn.execute(insert, {"n": n, "e": f"{n}@example.com"}).scalar()
                       for n in ("ada", "bob")]
                conn.execute(text("DELETE FROM users WHERE id = :i"), {"i": ids[-1]})
            with engine.begin() as conn:
                new = conn.execute(insert, {"n": "cyd", "e": "cyd@example.com"}).scalar()
                ddl = {}
                if engine.dialect.name == "sqlite":
                    ddl = dict(conn.execute(text(
                        "SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
        finally:
            engine.dispose()
        assert new > ids[-1], (ids, new)
        for table in AUTOINCREMENT_TABLES if ddl else ():
            assert "AUTOINCREMENT" in ddl[table], table


def test_a_database_that_lost_autoincrement_gets_it_back_with_its_rows(tmp_path: Path) -> None:
    """Upgraded through the old rebuild (AUTOINCREMENT gone) with accounts
    and their sessions: the new revision keeps every row and id, sessions
    are not cascaded away, and the next id is past the highest."""
    if ON_PG:
        pytest.skip("SQLite only: PostgreSQL never reuses an identity")
    with fresh_database(tmp_path, "lost") as url:
        flask_db(url, "upgrade", "da042c69ec55")
        engine = create_engine(url)
        with engine.begin() as conn:
            assert "AUTOINCREMENT" not in conn.execute(text(
                "SELECT sql FROM sqlite_master WHERE name = 'users'")).scalar()
            for n in ("ada", "bob", "cyd"):
                conn.execute(text(
                    "INSERT INTO users (username, username_key, email, email_key, "
                    "password_hash, is_admin, is_blocked, totp_enabled, created_at, "
                    "updated_at) VALUES (:n, :n, :e, :e, 'h', 0, 0, 0, '2026-01-01', "
                    "'2026-01-01')"), {"n": n, "e": f"{n}@example.com"})
            conn.execute(text(
                "INSERT INTO auth_sessions (id, user_id, refresh_hash, refresh_generation, "
                "two_factor, created_at, last_used_at, expires_at) VALUES "
                "('s1', 2, 'h', 0, 0, '2026-01-01', '2026-01-01', '2026-02-01')"))
        engine.dispose()
        flask_db(url, "upgrade")
        flask_db(url, "check")
        engine = create_engine(url)
        try:
            with engine.begin() as conn:
                rows = conn.execute(text("SELECT id, username FROM users ORDER BY id")).all()
                sessions = conn.execute(text("SELECT id, user_id FROM auth_sessions")).all()
                conn.execute(text("DELETE FROM users WHERE id = 3"))
                conn.execute(text(
                    "INSERT INTO users (username, username_key, email, email_key, "
                    "password_hash, is_admin, is_blocked, totp_enabled, created_at, "
                    "updated_at) VALUES ('dee', 'dee', 'd@example.com', 'd@example.com', "
                    "'h', 0, 0, 0, '2026-01-01', '2026-01-01')"))
                new = conn.execute(text("SELECT id FROM users WHERE username = 'dee'")).scalar()
        finally:
            engine.dispose()
        assert [tuple(r) for r in rows] == [(1, "ada"), (2, "bob"), (3, "cyd")]
        assert [tuple(s) for s in sessions] == [("s1", 2)]
        assert new == 4
