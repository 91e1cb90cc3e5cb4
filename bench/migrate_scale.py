"""Every migration, from the first revision to head, on a database of many accounts.

    .venv/bin/python bench/migrate_scale.py                          # SQLite, 1,000,000
    .venv/bin/python bench/migrate_scale.py --database postgresql    # scratch PostgreSQL

A scratch database (a SQLite file, or a PostgreSQL database on 127.0.0.1:5432,
dropped after) is migrated to the first revision, given `--users` accounts
with one session each (half of them revoked; every 100th account with a TOTP
secret stored in plain, as the first revision kept it) in plain SQL, since
this checkout's models describe the newest schema, and analyzed. Then this
checkout's `flask db upgrade` runs every later migration, with production
settings (the app's own engine has a 5 s statement timeout; migrations run
on theirs). The report gives the time, checks that every row is still there,
that the secrets are no longer stored in plain, and that a new account gets
an id above every existing one (SQLite's AUTOINCREMENT, which one rebuild
once dropped).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import create_engine, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import PASSWORD, database_url, flask_db, scratch_database  # noqa: E402

FIRST_REVISION = "85f705500721"
PLAIN_SECRET = "JBSWY3DPEHPK3PXP"  # base32, as the first revision stored secrets

# the first revision's columns, filled from a row number n (:n in both dialects)
USERS = ("INSERT INTO users (id, username, username_key, email, email_key, password_hash, "
         "is_admin, is_blocked, totp_enabled, totp_secret, created_at, updated_at) "
         "SELECT n, 'user' || n, 'user' || n, 'user' || n || '@example.com', "
         "'user' || n || '@example.com', :digest, false, false, n % 100 = 0, "
         "CASE WHEN n % 100 = 0 THEN :secret END, {then}, {then} FROM numbers")
SESSIONS = ("INSERT INTO auth_sessions (id, user_id, refresh_hash, refresh_generation, "
            "two_factor, created_at, last_used_at, expires_at, revoked_at, revoked_reason) "
            "SELECT 's' || id, id, :zeros, 0, false, {recent}, {recent}, {later}, "
            "CASE WHEN id % 2 = 0 THEN {recent} END, "
            "CASE WHEN id % 2 = 0 THEN 'logout' END FROM users")
NUMBERS = {"sqlite": "WITH RECURSIVE numbers(n) AS (SELECT 1 UNION ALL SELECT n + 1 "
                     "FROM numbers WHERE n < :users) ",
           "postgresql": "WITH numbers AS (SELECT generate_series(1, :users) AS n) "}


def seed(url: str, users: int) -> None:
    from argon2 import PasswordHasher

    from config import BaseConfig

    digest = PasswordHasher(time_cost=BaseConfig.ARGON2_TIME_COST,
                            memory_cost=BaseConfig.ARGON2_MEMORY_COST,
                            parallelism=BaseConfig.ARGON2_PARALLELISM).hash(PASSWORD)
    engine = create_engine(url)
    dialect = engine.dialect.name
    # timestamps as each dialect stores them: SQLite keeps the text as it is
    stamp = "CAST(:{} AS TIMESTAMP)" if dialect == "postgresql" else ":{}"
    stamps = {name: stamp.format(name) for name in ("then", "recent", "later")}
    with engine.begin() as conn:
        conn.execute(text(NUMBERS[dialect] + USERS.format(**stamps)),
                     {"users": users, "digest": digest, "secret": PLAIN_SECRET,
                      "then": "2025-12-01 00:00:00"})
        conn.execute(text(SESSIONS.format(**stamps)),
                     {"zeros": "0" * 64, "recent": "2026-11-30 00:00:00",
                      "later": "2026-12-30 00:00:00"})
        if dialect == "postgresql":  # ids given explicitly: the sequence follows them
            conn.execute(text("SELECT setval('users_id_seq', :users)"), {"users": users})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE"))
    engine.dispose()


def check(url: str, users: int) -> list[str]:
    """What is wrong after the upgrade (nothing: an empty list)."""
    problems = []
    engine = create_engine(url)
    with engine.connect() as conn:
        counts = conn.execute(text("SELECT (SELECT count(*) FROM users), "
                                   "(SELECT count(*) FROM auth_sessions)")).one()
        if tuple(counts) != (users, users):
            problems.append(f"rows: {tuple(counts)}, expected ({users}, {users})")
        plain = conn.execute(text("SELECT count(*) FROM users WHERE totp_secret = :s"),
                             {"s": PLAIN_SECRET}).scalar()
        if plain:
            problems.append(f"{plain} TOTP secrets still stored in plain")
        conn.execute(text("INSERT INTO users (username, username_key, email, email_key, "
                          "password_hash, is_admin, is_blocked, totp_enabled, email_verified, "
                          "locale, created_at, updated_at) VALUES ('newcomer', 'newcomer', "
                          "'n@example.com', 'n@example.com', 'x', false, false, false, false, "
                          "'en', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"))
        new_id = conn.execute(text("SELECT id FROM users WHERE username_key = 'newcomer'")
                              ).scalar()
        if new_id <= users:
            problems.append(f"a new account got id {new_id}, not above {users}")
        conn.rollback()
    engine.dispose()
    return problems


def run(url: str, users: int, label: str) -> int:
    first = flask_db(url, "upgrade", FIRST_REVISION)
    if first.returncode:
        print(first.stderr[-3000:], file=sys.stderr)
        return 1
    started = time.monotonic()
    seed(url, users)
    print(f"{label}: {users:,} accounts and sessions seeded at {FIRST_REVISION} "
          f"in {time.monotonic() - started:.1f} s")
    started = time.monotonic()
    upgrade = flask_db(url, "upgrade")
    took = time.monotonic() - started
    if upgrade.returncode:
        print(f"flask db upgrade failed after {took:.1f} s:\n{upgrade.stderr[-3000:]}")
        return 1
    problems = check(url, users)
    print(f"{label}: every migration {FIRST_REVISION} -> head in {took:.1f} s, "
          f"production settings, no statement cancelled")
    print("rows, secrets and ids: " + ("; ".join(problems) if problems else "as expected"))
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--users", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    if args.database == "sqlite":
        with tempfile.TemporaryDirectory(prefix="gatehouse-migrate-") as tmpdir:
            url = database_url(Path(tmpdir) / "migrate.db")
            return run(url, args.users, "SQLite file")
    with scratch_database() as (url, version):
        return run(url, args.users, f"PostgreSQL {version}")


if __name__ == "__main__":
    sys.exit(main())
