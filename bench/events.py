"""What the security event log and the automatic prune cost a request, in-process.

    .venv/bin/python bench/events.py            # SQLite file
    .venv/bin/python bench/events.py --database postgresql+psycopg://postgres@127.0.0.1/db

Each scenario runs with events recorded and with them dropped (the recorder
patched to record nothing, bench-only), in alternating chunks, best of 7:
a successful login (its event joins the login's transaction), a wrong
password (its event gets a transaction of its own after the rollback) and
GET /v1/users/me (no event; the automatic prune's per-request check, on
against PRUNE_INTERVAL=0). argon2 runs at the cheapest cost so the
database work is not hidden behind the hash: against production's
~150 ms hash the differences are smaller still.
"""
from __future__ import annotations

import argparse
import os
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PASSWORD = "bench password 1234"
SECRET = secrets.token_urlsafe(48)


def make(database: str, **overrides: Any) -> Any:
    os.environ.update(APP_ENV="production", SECRET_KEY=SECRET,
                      TOTP_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
                      AUTH_FAILURES_FREE="1000000000",  # no backoff: every wrong try hashes
                      MAIL_ENABLED="false",
                      DATABASE_URL=database, RATELIMIT_ENABLED="false", LOG_LEVEL="WARNING",
                      LOG_ACCESS="false", ARGON2_TIME_COST="1", ARGON2_MEMORY_COST="1024",
                      ARGON2_PARALLELISM="1")
    from api import create_app

    return create_app(**overrides)


def timed(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(n):
        fn()
    return ((time.process_time() - cpu) / n * 1e6, (time.perf_counter() - wall) / n * 1e6)


def compare(label: str, on: Callable[[], Any], off: Callable[[], Any], n: int,
            before: Callable[[bool], None] = lambda _: None) -> None:
    for flag, fn in ((True, on), (False, off)):
        before(flag)
        for _ in range(max(20, n // 10)):
            fn()
    best = {True: [float("inf")] * 2, False: [float("inf")] * 2}
    for _ in range(7):
        for flag, fn in ((True, on), (False, off)):
            before(flag)
            cpu, wall = timed(fn, n)
            best[flag] = [min(best[flag][0], cpu), min(best[flag][1], wall)]
    (c1, w1), (c0, w0) = best[True], best[False]
    print(f"{label:34} {c1:8.0f} {c0:8.0f} {c1 - c0:+7.0f}   {w1:8.0f} {w0:8.0f} {w1 - w0:+7.0f}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", help="a database URL (default: a temporary SQLite file)")
    parser.add_argument("-n", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        database = args.database or f"sqlite:///{tmp}/events.db"
        app = make(database, PRUNE_INTERVAL=0)
        pruning = make(database, PRUNE_INTERVAL=3600)
        from api.events import service
        from api.extensions import db

        with app.app_context():
            db.drop_all()
            db.create_all()
        client, prune_client = app.test_client(), pruning.test_client()
        assert client.post("/v1/auth/register", json={
            "username": "bencher", "email": "b@example.com", "password": PASSWORD}
        ).status_code == 200
        token = client.post("/v1/auth/login", json={"login": "bencher", "password": PASSWORD}
                            ).get_json()["data"]["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        real_event = service._event

        def events(on: bool) -> None:
            service._event = real_event if on else (lambda *a, **k: None)

        def login(password: str) -> Callable[[], Any]:
            def call() -> None:
                client.post("/v1/auth/login", json={"login": "bencher", "password": password})
            return call

        print(f"{'µs per request':34} {'CPU on':>8} {'off':>8} {'diff':>7}   "
              f"{'wall on':>8} {'off':>8} {'diff':>7}")
        compare("login (sign_in.succeeded)", login(PASSWORD), login(PASSWORD), args.n, events)
        compare("wrong password (sign_in.failed)", login("not the password"),
                login("not the password"), args.n, events)
        events(True)
        compare("GET /v1/users/me (prune hook)",
                lambda: prune_client.get("/v1/users/me", headers=headers).close(),
                lambda: client.get("/v1/users/me", headers=headers).close(), args.n * 5)
        with app.app_context():
            db.drop_all()
    return 0


if __name__ == "__main__":
    sys.exit(main())
