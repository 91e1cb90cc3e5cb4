"""A prune over many dead rows, and how long a login waits beside it.

    .venv/bin/python bench/prune.py                      # SQLite file, 1,000,000 rows
    .venv/bin/python bench/prune.py --database postgresql+psycopg://postgres@127.0.0.1/db
    .venv/bin/python bench/prune.py --rows 20000         # a quick look

The database is migrated (`flask db upgrade`) and given one account and
`--rows` sessions that ended long ago (plus as many old events), made by the
database itself (SQLite's recursive CTE, PostgreSQL's generate_series).
Then the prune (api.maintenance.prune, as `flask maintenance prune` runs
it) runs in its own process while this one logs in every 50 ms
(in-process, the cheapest argon2 cost so the login is mostly its database
work) and times every login. Printed: the prune's duration, rows per
second and longest batch transaction, and the logins' latency during the
prune against the same logins before it (the wait the prune caused).
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password 1234"

SQLITE_FILL = """
WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < :rows)
INSERT INTO {table} ({columns}) SELECT {values} FROM n
"""
PG_FILL = "INSERT INTO {table} ({columns}) SELECT {values} FROM generate_series(1, :rows) AS n(x)"


def environment(database: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "ARGON2_"))}
    env.update(APP_ENV="production", SECRET_KEY=secrets.token_urlsafe(48),
               TOTP_ENCRYPTION_KEYS=Fernet.generate_key().decode(), DATABASE_URL=database,
               RATELIMIT_ENABLED="false", LOG_LEVEL="WARNING", LOG_ACCESS="false",
               ARGON2_TIME_COST="1", ARGON2_MEMORY_COST="1024", ARGON2_PARALLELISM="1",
               PRUNE_INTERVAL="0", MAIL_ENABLED="false", PYTHONPATH=str(ROOT))
    return env


def fill(db, rows: int, user_id: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import text

    postgres = db.engine.dialect.name == "postgresql"
    sid = "md5(x::text)" if postgres else "printf('%032x', x)"
    old = "now() - interval '100 days'" if postgres else "datetime('now', '-100 days')"
    falsy = "false" if postgres else "0"
    template = PG_FILL if postgres else SQLITE_FILL
    if postgres:  # the fill, not the prune, may take longer than DB_STATEMENT_TIMEOUT_MS
        db.session.execute(text("SET LOCAL statement_timeout = 0"))
    db.session.execute(text(template.format(
        table="auth_sessions",
        columns="id, user_id, refresh_hash, refresh_generation, two_factor, created_at, "
                "last_used_at, expires_at",
        values=f"{sid}, {user_id}, 'x', 0, {falsy}, {old}, {old}, {old}")), {"rows": rows})
    db.session.execute(text(template.format(
        table="security_events", columns="user_id, kind, created_at",
        values=f"{user_id}, 'logout', {old}")), {"rows": rows})
    db.session.commit()


# the prune, in its own process: started, then told to go, so its start-up
# (imports, create_app) is not timed; each batch's transaction is timed
CHILD = """
import json, sys, time
from api import create_app
from api.extensions import db
from api.maintenance import prune
app = create_app()
with app.app_context():
    db.session.execute(db.text("SELECT 1")); db.session.rollback()
    print("ready", flush=True)
    sys.stdin.readline()
    holds, began = [], []
    execute, commit = db.session.execute, db.session.commit
    def timed_execute(*args, **kwargs):
        began.append(time.perf_counter())
        return execute(*args, **kwargs)
    def timed_commit():
        commit()
        holds.append(time.perf_counter() - began[-1])
    db.session.execute, db.session.commit = timed_execute, timed_commit
    started = time.perf_counter()
    counts = prune(app.config, batch_size=int(sys.argv[1]))
    print(json.dumps({"seconds": time.perf_counter() - started, "counts": counts,
                      "batches": len(holds), "longest_batch_ms": 1000 * max(holds)}))
"""


def percentiles(times: list[float]) -> str:
    times = sorted(times)
    return (f"n={len(times)} p50={statistics.median(times):.1f} ms "
            f"p99={times[max(0, int(len(times) * 0.99) - 1)]:.1f} ms max={times[-1]:.1f} ms")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="an empty database's URL (default: a temporary "
                                           "SQLite file)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--login-every", type=float, default=0.05,
                        help="seconds between the start of two logins (default 0.05)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{tmp}/prune.db"
        env = environment(database)
        subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT,
                       env=env, check=True, capture_output=True)
        os.environ.update(env)
        from api import create_app
        from api.extensions import db

        app = create_app()
        client = app.test_client()
        assert client.post("/v1/auth/register", json={
            "username": "bencher", "email": "b@example.com", "password": PASSWORD}
        ).status_code == 200
        started = time.perf_counter()
        with app.app_context():
            from api.users.models import User

            fill(db, args.rows, db.session.query(User.id).scalar())
        print(f"{database.split(':')[0].split('+')[0]}: {args.rows:,} dead sessions and "
              f"{args.rows:,} old events made in {time.perf_counter() - started:.1f} s")

        def login() -> float:
            t0 = time.perf_counter()
            resp = client.post("/v1/auth/login", json={"login": "bencher", "password": PASSWORD})
            assert resp.status_code == 200, resp.get_json()
            return (time.perf_counter() - t0) * 1000

        def paced(until: "subprocess.Popen[str] | None", count: int = 0) -> list[float]:
            times: list[float] = []
            while (until.poll() is None) if until is not None else len(times) < count:
                t0 = time.perf_counter()
                times.append(login())
                time.sleep(max(0.0, args.login_every - (time.perf_counter() - t0)))
            return times

        child = subprocess.Popen([sys.executable, "-c", CHILD, str(args.batch_size)],
                                 cwd=ROOT, env=env, stdin=subprocess.PIPE,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdin is not None
        if child.stdout.readline().strip() != "ready":
            print(child.communicate()[1], file=sys.stderr)
            return 1
        before = paced(None, 200)
        child.stdin.write("go\n")
        child.stdin.flush()
        during = paced(child)
        out, err = child.communicate()
        if child.returncode:
            print(err, file=sys.stderr)
            return 1
        result = json.loads(out.strip().splitlines()[-1])
        deleted = sum(result["counts"].values())
        print("deleted:", ", ".join(f"{k} {v:,}" for k, v in result["counts"].items() if v))
        print(f"prune: {result['seconds']:.1f} s, {deleted / result['seconds']:,.0f} rows/s, "
              f"{result['batches']} transactions of up to {args.batch_size} rows, the longest "
              f"{result['longest_batch_ms']:.0f} ms")
        print(f"logins (one every {args.login_every * 1000:.0f} ms) before the prune: "
              f"{percentiles(before)}")
        print(f"logins during the prune: {percentiles(during)}")
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
