"""A rolling deploy on PostgreSQL: the running release keeps signing people in
while the next release's migrations run on a database of many accounts.

    .venv/bin/python bench/online_migration.py                  # 1,000,000 accounts
    .venv/bin/python bench/online_migration.py --users 20000    # a quick look

The release that runs is an earlier commit (`--release`, by default the last
one before part two, whose schema is the revision 3c1e7a9d2b40), unpacked
with `git archive` and served by gunicorn with production settings on a
scratch database. The database is migrated to that release's head, given
`--users` accounts with one session each (half of them revoked), and
analyzed. Then `--clients` clients sign in over and over with the real
argon2id cost; after a few seconds this checkout's `flask db upgrade`
migrates the database to head under them, and the clients go on a few
seconds after it ends. Every sign-in must answer 200: the report counts those
that did not, before, during and after the migration, with their latency.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import PASSWORD, Server, flask_db, scratch_database  # noqa: E402


def seed(url: str, users: int) -> None:
    """`users` accounts sharing one production-cost hash, one session each
    (half of them revoked), in the release's schema: plain SQL, since this
    checkout's models describe the newer one."""
    import psycopg
    from argon2 import PasswordHasher

    from config import BaseConfig

    digest = PasswordHasher(time_cost=BaseConfig.ARGON2_TIME_COST,
                            memory_cost=BaseConfig.ARGON2_MEMORY_COST,
                            parallelism=BaseConfig.ARGON2_PARALLELISM).hash(PASSWORD)
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(
            "INSERT INTO users (username, username_key, email, email_key, password_hash, "
            "is_admin, is_blocked, totp_enabled, created_at, updated_at) "
            "SELECT 'user' || g, 'user' || g, 'user' || g || '@example.com', "
            "'user' || g || '@example.com', %s, false, false, false, "
            "now() - interval '1 year', now() - interval '1 year' "
            "FROM generate_series(1, %s) AS g", (digest, users))
        conn.execute(
            "INSERT INTO auth_sessions (id, user_id, refresh_hash, refresh_generation, "
            "two_factor, created_at, last_used_at, expires_at, revoked_at, revoked_reason) "
            "SELECT md5(id::text), id, repeat('0', 64), 0, false, now() - interval '1 day', "
            "now() - interval '1 day', now() + interval '29 days', "
            "CASE WHEN id % 2 = 0 THEN now() END, CASE WHEN id % 2 = 0 THEN 'logout' END "
            "FROM users")
        conn.execute("ANALYZE")


def unpack(commit: str, tree: Path) -> None:
    """The commit's files (`git archive`) in `tree`."""
    tree.mkdir()
    archive = subprocess.run(["git", "archive", commit], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(tree)], input=archive, check=True)


def sign_in(url: str, login: str) -> tuple[float, float, int]:
    """(start, end, status) of one sign-in; 0 for no answer at all."""
    body = json.dumps({"login": login, "password": PASSWORD}).encode()
    request = urllib.request.Request(url + "/v1/auth/login", data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    start = time.monotonic()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
    except OSError:
        status = 0
    return start, time.monotonic(), status


def summary(label: str, calls: list[tuple[float, float, int]]) -> str:
    if not calls:
        return f"{label:8} no sign-in started"
    took = sorted(end - start for start, end, _ in calls)
    refused = [status for _, _, status in calls if status != 200]
    return (f"{label:8} {len(calls):5d} sign-ins, {len(refused)} refused {sorted(set(refused))}, "
            f"p50 {statistics.median(took) * 1000:6.0f} ms, "
            f"max {took[-1] * 1000:6.0f} ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--clients", type=int, default=2, help="sign-ins in flight")
    parser.add_argument("--release", default="5fa5332",
                        help="the running release's commit (its schema is migrated from)")
    parser.add_argument("--around", type=float, default=3.0,
                        help="seconds of sign-ins before and after the migration")
    args = parser.parse_args(argv)

    with scratch_database() as (url, _), tempfile.TemporaryDirectory() as tmp:
        release = None
        try:
            tree = Path(tmp) / "release"
            unpack(args.release, tree)
            upgraded = flask_db(url, "upgrade", tree=tree)
            if upgraded.returncode != 0:
                raise SystemExit("the release's migrations failed:\n" + upgraded.stderr[-3000:])
            started = time.monotonic()
            seed(url, args.users)
            print(f"seeded {args.users:,} accounts and sessions in "
                  f"{time.monotonic() - started:.1f} s", flush=True)
            release = Server("wsgi:app", url, {}, Path(tmp) / "release.log", tree=tree)
            release.wait_ready()

            calls: list[tuple[float, float, int]] = []
            stop = threading.Event()

            def client(number: int) -> None:
                while not stop.is_set():
                    calls.append(sign_in(release.url, f"user{number + 1}"))

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for thread in threads:
                thread.start()
            time.sleep(args.around)
            began = time.monotonic()
            migrated = flask_db(url, "upgrade")
            ended = time.monotonic()
            time.sleep(args.around)
            stop.set()
            for thread in threads:
                thread.join()
            if migrated.returncode != 0:
                raise SystemExit("the migration failed:\n" + migrated.stderr[-3000:])
            print(f"migrations {args.release} head -> this checkout's head: "
                  f"{ended - began:.1f} s, {args.clients} clients signing in")
            print(summary("before", [c for c in calls if c[0] < began]))
            print(summary("during", [c for c in calls if began <= c[0] < ended]))
            print(summary("after", [c for c in calls if c[0] >= ended]))
            refused = sum(1 for c in calls if c[2] != 200)
            print("goal (no sign-in refused): " + ("met" if refused == 0 else "NOT MET"))
            return 0 if refused == 0 else 1
        finally:
            if release is not None:
                release.stop()


if __name__ == "__main__":
    sys.exit(main())
