"""GET /v1/users/me's latency while logins hash beside it, under gunicorn.

    .venv/bin/python bench/login_burst.py           # 6 rounds, 3 s per measurement
    .venv/bin/python bench/login_burst.py --smoke   # 1 round of 1 s: does it run?
    .venv/bin/python bench/login_burst.py --env PASSWORD_HASH_CONCURRENCY=4

Gatehouse alone (wsgi:app) under config/gunicorn.conf.py, with bench/run.py's
production settings and seed (a SQLite file, or --database as bench/run.py
takes it). Each round times GET /v1/users/me with wrk twice: idle, and while
--logins more wrk connections log in back to back (bench/run.py's login
scenario: production argon2id cost); which comes first alternates. Prints the
median p50 of each, their ratio, and issue 21's goal: during 8 concurrent
logins, the p50 stays within 2x its idle value. What it measures are
PASSWORD_HASH_CONCURRENCY (hashes at once per worker), PASSWORD_HASH_NICE (their
CPU priority) and GUNICORN_THREADS (a login waiting to hash holds a thread);
--env changes them.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    BY_KEY, SEED_USERS, Server, bench_databases, check_answers, gunicorn_settings, run_wrk,
    settle)


def measure(server: Server, token: str, args: argparse.Namespace, logins: int) -> dict:
    """One wrk run of GET /v1/users/me, with `logins` connections logging in
    throughout it (started a second before, stopped a second after)."""
    settle([server])
    box: dict = {}
    burst = None
    if logins:
        def log_in() -> None:
            box["login"] = run_wrk(server, BY_KEY["login"], None, args.seconds + 2, logins, 1)

        burst = threading.Thread(target=log_in)
        burst.start()
        time.sleep(1)
    result = run_wrk(server, BY_KEY["me"], token, args.seconds, args.connections, 1)
    if burst is not None:
        burst.join()
        result["login"] = box["login"]
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="1 round of 1 s")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=3, help="per measurement")
    parser.add_argument("--logins", type=int, default=8, help="concurrent login connections")
    parser.add_argument("--connections", type=int, default=4,
                        help="wrk connections reading GET /v1/users/me")
    parser.add_argument("--database", metavar="URL", help="as bench/run.py takes it")
    parser.add_argument("--users", type=int, default=SEED_USERS)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the server (e.g. PASSWORD_HASH_CONCURRENCY=4)")
    args = parser.parse_args(argv)
    if args.smoke:
        args.rounds, args.seconds = 1, 1
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    extra = dict(item.partition("=")[::2] for item in args.env)
    from config import BaseConfig

    bound = extra.get("PASSWORD_HASH_CONCURRENCY",
                      f"{BaseConfig.PASSWORD_HASH_CONCURRENCY} (the default)")
    started = time.monotonic()
    idle: list[dict] = []
    busy: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="gatehouse-burst-") as tmpdir:
        tmp = Path(tmpdir)
        seeded = bench_databases(args.database, tmp, args.users, floor=False)
        with seeded as (dbs, token, database):
            server = Server("wsgi:app", dbs["ours"], extra, tmp / "ours.log")
            try:
                server.wait_ready()
                check_answers({"ours": server}, {"ours": {"good": token, "bad": "not.a.token"}})
                run_wrk(server, BY_KEY["me"], token, 1, args.connections, 1)  # warm-up
                for round_no in range(args.rounds):
                    first_idle = round_no % 2 == 0
                    for logins in ((0, args.logins) if first_idle else (args.logins, 0)):
                        (busy if logins else idle).append(measure(server, token, args, logins))
            finally:
                server.stop()
    report(args, database, bound, gunicorn_settings(extra), idle, busy,
           time.monotonic() - started)
    return 0


def report(args: argparse.Namespace, database: str, bound: str, shape: str, idle: list[dict],
           busy: list[dict], elapsed: float) -> None:
    def med(rows: list[dict], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    print(f"database: {database}")
    print(f"gunicorn: config/gunicorn.conf.py ({shape}), production settings; "
          f"PASSWORD_HASH_CONCURRENCY={bound}")
    print(f"GET /v1/users/me by wrk -t1 -c{args.connections}, {args.rounds} round(s) x "
          f"{args.seconds} s idle and during {args.logins} concurrent logins "
          f"(wrk -c{args.logins}); medians over rounds")
    print()
    print(f"{'GET /v1/users/me':28} {'p50':>9} {'p99':>9} {'rps':>6}")
    print(f"{'idle':28} {med(idle, 'p50'):7.2f}ms {med(idle, 'p99'):7.2f}ms "
          f"{med(idle, 'rps'):6.0f}")
    print(f"{f'during {args.logins} logins':28} {med(busy, 'p50'):7.2f}ms "
          f"{med(busy, 'p99'):7.2f}ms {med(busy, 'rps'):6.0f}")
    logins = [r["login"] for r in busy]
    print(f"logins meanwhile: {statistics.median(r['rps'] for r in logins):.1f}/s, "
          f"p50 {statistics.median(r['p50'] for r in logins):.0f} ms")
    ratio = med(busy, "p50") / med(idle, "p50")
    print("per round, p50 idle / during (ms) and ratio: "
          + ", ".join(f"{i['p50']:.1f}/{b['p50']:.1f} {b['p50'] / i['p50']:.2f}"
                      for i, b in zip(idle, busy)))
    wrong = sum(r["wrong"] + r["socket_errors"] for r in idle + busy + logins)
    if wrong:
        print(f"warning: {wrong} unexpected statuses or socket errors")
    verdict = "met" if ratio <= 2 else "NOT MET"
    print(f"p50 during / idle: {ratio:.2f}x; goal (within 2x): {verdict}")
    print(f"({elapsed:.0f} s)")


if __name__ == "__main__":
    sys.exit(main())
