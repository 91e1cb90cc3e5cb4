"""In-process cost per request, ours vs the floor, with no server and no wrk.

    .venv/bin/python bench/inproc.py                    # CPU µs per request, each scenario
    .venv/bin/python bench/inproc.py --profile me       # pyinstrument over one scenario
    .venv/bin/python bench/inproc.py --database postgresql   # on scratch PostgreSQL databases

Each request is a direct WSGI call (the environ built once, copied per call),
so what is timed is the app alone: routing, hooks, auth, the query,
serialization and error handling. Far less noisy than wrk on a busy machine,
it is what the profile-and-fix loop used; bench/run.py has the real numbers.
"""
from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from pathlib import Path

from werkzeug.test import EnvironBuilder

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.run import BY_KEY as KEYS  # noqa: E402
from bench.run import Scenario, base_env, bench_databases  # noqa: E402


def load_apps(dbs: dict) -> tuple[object, object]:
    """Gatehouse and the floor, each on its own copy of the seeded database."""
    os.environ.update(base_env(dbs["floor"]))
    import bench.floor

    # as under gunicorn, whose access log (on) turns the app's own line off
    os.environ.update(base_env(dbs["ours"]), LOG_ACCESS="false")
    from api import create_app

    return create_app(), bench.floor.app


def environ_for(s: Scenario, token: str) -> tuple[dict, bytes]:
    headers = {"Content-Type": "application/json", "Host": "127.0.0.1"}
    if s.token:
        headers["Authorization"] = "Bearer " + (token if s.token == "good" else "not.a.token")
    data = (s.body or "").encode()
    environ = EnvironBuilder(path=s.path, method=s.method, headers=headers,
                             data=data).get_environ()
    environ["wsgi.input_terminated"] = True  # as gunicorn's environ has it
    return environ, data


def call(app, environ: dict, data: bytes) -> str:
    env = dict(environ)
    env["wsgi.input"] = io.BytesIO(data)
    status = []
    body = app(env, lambda s, h, e=None: status.append(s))
    for _ in body:
        pass
    if hasattr(body, "close"):
        body.close()
    return status[0]


def per_request_us(apps: list, environ: dict, data: bytes, n: int,
                   reps: int = 7) -> list[float]:
    """CPU µs per request for each app (the process's CPU time, so waiting
    for a core on a busy machine does not count): best of `reps` chunks, the
    apps taking turns chunk by chunk so what remains of the noise (caches
    shared with other processes) hits them alike."""
    for app in apps:
        for _ in range(min(200, n)):
            call(app, environ, data)
    best = [float("inf")] * len(apps)
    for _ in range(reps):
        for i, app in enumerate(apps):
            start = time.process_time()
            for _ in range(n // reps):
                call(app, environ, data)
            best[i] = min(best[i], (time.process_time() - start) / (n // reps))
    return [b * 1e6 for b in best]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=5000)
    parser.add_argument("--profile", choices=sorted(KEYS), help="pyinstrument one scenario")
    parser.add_argument("--floor", action="store_true", help="profile the floor instead")
    parser.add_argument("--all", action="store_true", help="show library frames too")
    parser.add_argument("--database", help="as bench/run.py's: sqlite (the default), "
                        "postgresql or a PostgreSQL URL")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmpdir, \
            bench_databases(args.database, Path(tmpdir)) as (dbs, token, database):
        ours, floor = load_apps(dbs)
        print(f"database: {database}")
        if args.profile:
            from pyinstrument import Profiler

            environ, data = environ_for(KEYS[args.profile], token)
            app = floor if args.floor else ours
            for _ in range(200):
                call(app, environ, data)
            profiler = Profiler(interval=0.0001)
            profiler.start()
            for _ in range(args.n):
                call(app, environ, data)
            profiler.stop()
            print(profiler.output_text(unicode=True, color=False, show_all=args.all))
            return 0
        print(f"{'scenario':26} {'ours µs':>9} {'floor µs':>9} {'ours/floor':>10}  status")
        for key, scenario in KEYS.items():
            environ, data = environ_for(scenario, token)
            n = 50 if key == "login" else args.n
            o, f = per_request_us([ours, floor], environ, data, n)
            print(f"{scenario.label:26} {o:9.0f} {f:9.0f} {o / f:10.2f}  "
                  f"{call(ours, environ, data)} / {call(floor, environ, data)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
