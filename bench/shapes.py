"""gunicorn worker shapes against each other, Gatehouse only, in one run.

    .venv/bin/python bench/shapes.py                        # five shapes, about 8 minutes
    .venv/bin/python bench/shapes.py --shapes gthread:2x4,sync:5 --rounds 2

Every shape is started at once (an idle server costs no CPU), each on its own
copy of the seeded database; every round then drives every scenario against
every shape in turn, the order rotating from round to round. Shapes measured
one after another, minutes apart, would compare the machine's moods as much as
the shapes (on the shared VM of bench/README.md, a run 15 minutes later
served 40 % more). Reports the median requests/s and p99 per shape and
scenario, and each shape's throughput relative to the first.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import (  # noqa: E402
    BY_KEY, Scenario, Server, copy_db, run_wrk, seed, settle)

# worker class:workers x threads (sync: workers); the first is the reference
DEFAULT_SHAPES = "gthread:2x4,gthread:5x2,gthread:3x4,sync:5,sync:3"


def parse_shape(text: str) -> tuple[str, dict[str, str]]:
    """'gthread:2x4' or 'sync:5' -> (a label, the gunicorn settings)."""
    kind, _, size = text.partition(":")
    workers, _, threads = size.partition("x")
    if kind not in ("gthread", "sync") or not workers.isdigit() \
            or (kind == "gthread") != threads.isdigit():
        raise argparse.ArgumentTypeError(f"not a shape: {text!r} (gthread:2x4, sync:5)")
    settings = {"GUNICORN_WORKER_CLASS": kind, "WEB_CONCURRENCY": workers}
    if threads:
        settings["GUNICORN_THREADS"] = threads
        return f"gthread, {workers} x {threads} threads", settings
    return f"sync, {workers} workers", settings


def measure(shapes: list[tuple[str, dict[str, str]]], scenarios: list[Scenario],
            args: argparse.Namespace) -> tuple[dict, dict]:
    """Requests/s and p99 of every round, by (shape index, scenario key)."""
    rps: dict[tuple[int, str], list[float]] = {}
    p99: dict[tuple[int, str], list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="gatehouse-shapes-") as tmpdir:
        tmp = Path(tmpdir)
        tokens = {"good": seed(tmp / "base.db"), "bad": "not.a.token"}

        def run(server: Server, s: Scenario, seconds: int) -> dict:
            conns = args.login_connections if s.key == "login" else args.connections
            settle(servers)
            return run_wrk(server, s, tokens.get(s.token), seconds, conns, 1)

        servers: list[Server] = []
        try:
            for i, (_, settings) in enumerate(shapes):
                copy_db(tmp / "base.db", tmp / f"{i}.db")
                servers.append(Server("wsgi:app", tmp / f"{i}.db", settings,
                                      tmp / f"{i}.log"))
            for server in servers:
                server.wait_ready()
            for s in scenarios:  # warm-up
                for server in servers:
                    run(server, s, 1)
            for round_no in range(args.rounds):
                # the order rotates: each shape goes first, second, … in turn
                order = [(round_no + k) % len(servers) for k in range(len(servers))]
                for s in scenarios:
                    for i in order:
                        result = run(servers[i], s, args.seconds)
                        rps.setdefault((i, s.key), []).append(result["rps"])
                        p99.setdefault((i, s.key), []).append(result["p99"])
        finally:
            for server in servers:
                server.stop()
    return rps, p99


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--login-connections", type=int, default=4)
    parser.add_argument("--only", default="me,id,unknown,badtoken,body,login")
    parser.add_argument("--shapes", default=DEFAULT_SHAPES,
                        help=f"comma-separated, the reference first (default {DEFAULT_SHAPES})")
    args = parser.parse_args(argv)
    shapes = [parse_shape(text) for text in args.shapes.split(",")]
    scenarios = [BY_KEY[k] for k in args.only.split(",")]
    rps, p99 = measure(shapes, scenarios, args)
    print(f"requests/s (p99), median of {args.rounds} rounds x {args.seconds} s, "
          f"wrk -c{args.connections} (login -c{args.login_connections}); "
          f"[throughput / the first shape's]")
    print("| shape | " + " | ".join(s.label for s in scenarios) + " |")
    print("|---" * (len(scenarios) + 1) + "|")
    for i, (label, _) in enumerate(shapes):
        cells = []
        for s in scenarios:
            mine = statistics.median(rps[i, s.key])
            base = statistics.median(rps[0, s.key])
            cells.append(f"{mine:.0f} ({statistics.median(p99[i, s.key]):.0f} ms) "
                         f"[{mine / base:.2f}]")
        print(f"| {label} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
