"""Does the auth path's cost grow with the number of accounts and their history?

    .venv/bin/python bench/scale.py --users 1000
    .venv/bin/python bench/scale.py --users 1000000 \
        --database postgresql+psycopg://postgres@127.0.0.1:5432/scale

Seeds N accounts in bulk (executemany on SQLite, COPY on PostgreSQL; the
schema from the models), gives one account HISTORY older sessions (most
revoked) and signs it in on a new one, then times GET /v1/users/me for that
account in-process (CPU per request, as bench/inproc.py does; no server):
the auth query, the view, serialization. A PostgreSQL database named here is
emptied and filled; a SQLite one is a new temporary file.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import PASSWORD, base_env  # noqa: E402

HISTORY = 10_000


def bulk_insert(db, table, rows: list[dict]) -> None:
    """Insert rows into a table and commit: COPY on PostgreSQL, executemany on SQLite."""
    from sqlalchemy import insert

    if not rows:
        return
    if db.engine.dialect.name == "postgresql":
        raw = db.engine.raw_connection()
        try:
            cols = list(rows[0])
            with raw.cursor() as cur:
                with cur.copy(f"COPY {table.name} ({', '.join(cols)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row([row[c] for c in cols])
            raw.commit()
        finally:
            raw.close()
    else:
        db.session.execute(insert(table), rows)
        db.session.commit()


def seed_accounts(db, count: int, password_hash: str = "x", name: str = "s{}",
                  chunk: int = 50_000) -> None:
    """`count` accounts, in chunks, named name.format(i) (email the same at
    example.com), all with one password hash; ids 1..count on an empty table."""
    from api.users.models import User

    now = datetime(2025, 1, 1)
    for start in range(0, count, chunk):
        rows = []
        for i in range(start, min(start + chunk, count)):
            username = name.format(i)
            rows.append({"username": username, "username_key": username,
                         "email": f"{username}@example.com",
                         "email_key": f"{username}@example.com",
                         "password_hash": password_hash, "display_name": f"User {i}",
                         "is_admin": False, "is_blocked": False, "totp_enabled": False,
                         "created_at": now, "updated_at": now})
        bulk_insert(db, User.__table__, rows)


def _old_session(user_id: int, created: datetime) -> dict:
    return {"id": uuid.uuid4().hex, "user_id": user_id, "refresh_hash": "0" * 64,
            "refresh_generation": 0, "two_factor": False, "created_at": created,
            "last_used_at": created, "expires_at": created + timedelta(days=30),
            "revoked_at": created + timedelta(hours=1), "revoked_reason": "logout"}


def _history_start() -> datetime:
    """Six days ago (naive UTC, as stored). Seeded sessions are revoked but
    within SESSION_PRUNE_GRACE (7 days): a deployment in its steady state,
    whose automatic prune has removed anything older. (History from 2025 was
    dead: Gatehouse's first automatic prune deleted it during a measurement,
    costing its CPU there, while the floor's copy kept it.)"""
    return datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(days=6)


def seed_history(db, user_id: int, count: int = HISTORY) -> None:
    """`count` revoked sessions for one account, 30 s apart from six days ago."""
    from api.auth.models import AuthSession

    start = _history_start()
    bulk_insert(db, AuthSession.__table__,
                [_old_session(user_id, start + timedelta(seconds=30 * i)) for i in range(count)])


def seed_spread_history(db, every: int = 10, sessions: int = 3,
                        chunk: int = 50_000) -> int:
    """`sessions` old sessions (revoked) for every `every`-th account: the
    history of a deployment's regulars. Returns the number of sessions."""
    from sqlalchemy import text

    from api.auth.models import AuthSession

    ids = db.session.execute(text("SELECT id FROM users WHERE id % :n = 0 ORDER BY id"),
                             {"n": every}).scalars().all()
    db.session.commit()
    start = _history_start()
    rows: list[dict] = []
    total = 0
    for uid in ids:
        rows.extend(_old_session(uid, start + timedelta(days=k)) for k in range(sessions))
        if len(rows) >= chunk:
            bulk_insert(db, AuthSession.__table__, rows)
            total += len(rows)
            rows = []
    bulk_insert(db, AuthSession.__table__, rows)
    return total + len(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--database", default=None, help="a PostgreSQL URL (emptied)")
    parser.add_argument("--requests", type=int, default=3000)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="gh-scale-"))
    os.environ.update(base_env(tmp / "scale.db"), LOG_ACCESS="false", LOG_LEVEL="WARNING",
                      RATELIMIT_ENABLED="false")
    if args.database:
        os.environ["DATABASE_URL"] = args.database
    from sqlalchemy import text

    from api import create_app
    from api.extensions import db

    app = create_app()
    with app.app_context():
        db.drop_all()
        db.create_all()
        began = time.perf_counter()
        seed_accounts(db, args.users)
        seeded = time.perf_counter() - began
        client = app.test_client()
        client.post("/v1/auth/register", json={"username": "heavy", "email": "h@example.com",
                                               "password": PASSWORD})
        uid = db.session.execute(text("SELECT id FROM users WHERE username = 'heavy'")).scalar()
        seed_history(db, uid)
        db.session.execute(text("ANALYZE"))
        db.session.commit()
        token = client.post("/v1/auth/login", json={"login": "heavy", "password": PASSWORD}
                            ).get_json()["data"]["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(300):  # warm up
        assert client.get("/v1/users/me", headers=headers).status_code == 200
    samples = []
    for _ in range(5):
        began = time.process_time()
        for _ in range(args.requests // 5):
            client.get("/v1/users/me", headers=headers)
        samples.append((time.process_time() - began) / (args.requests // 5) * 1e6)
    samples.sort()
    kind = "postgresql" if args.database else "sqlite"
    print(f"{kind} users={args.users} seeded in {seeded:.1f}s; GET /v1/users/me "
          f"(a user with {HISTORY} old sessions): median {samples[2]:.0f} us CPU "
          f"(min {samples[0]:.0f})")
    with app.app_context():
        db.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
