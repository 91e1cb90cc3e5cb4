"""Benchmark Gatehouse against a bare-Flask floor, under gunicorn, with wrk.

    .venv/bin/python bench/run.py            # full run (~3 minutes on 2 cores)
    .venv/bin/python bench/run.py --smoke    # one short round, to check it runs

Both apps run with config/gunicorn.conf.py (production settings) on loopback
against copies of one seeded SQLite database; rounds alternate between them
so a noisy machine hits both alike, and each result is the median round.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
SECRET = "bench-secret-" + "x" * 40
PASSWORD = "bench-password-1"
SEED_USERS = 200

SCENARIOS = [  # name, method, path, body, needs token
    ("users/me (valid token)", "GET", "/v1/users/me", None, "good"),
    ("users/{id}", "GET", "/v1/users/7", None, "good"),
    ("unknown path (10)", "GET", "/v1/nope", None, None),
    ("bad token (99)", "GET", "/v1/users/me", None, "bad"),
    ("invalid body (88)", "POST", "/v1/auth/register",
     '{"username":"someone","email":"not-an-email","password":"long-enough-1"}', None),
]
LOGIN = ("login", "POST", "/v1/auth/login",
         '{"login":"user0001","password":"%s"}' % PASSWORD, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def base_env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "GUNICORN_"))}
    env.update(APP_ENV="production", SECRET_KEY=SECRET, DATABASE_URL=f"sqlite:///{db}",
               RATELIMIT_ENABLED="false", LOG_LEVEL="WARNING", GUNICORN_ACCESS_LOG="/dev/null")
    return env


def seed(db: Path) -> str:
    """Migrate, create users with production argon2 cost, return a valid access token."""
    env = base_env(db)
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True)
    code = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from api import create_app
from api.extensions import db
from api.users.models import User
app = create_app()
with app.app_context():
    h = __import__("api.auth.passwords", fromlist=["x"]).passwords().hash({PASSWORD!r})
    for i in range({SEED_USERS}):
        u = User(password_hash=h, display_name=f"User {{i}}")
        u.set_username(f"user{{i:04d}}"); u.set_email(f"user{{i:04d}}@example.com")
        db.session.add(u)
    db.session.commit()
r = app.test_client().post("/v1/auth/login", json={{"login": "user0001",
                                                   "password": {PASSWORD!r}}})
print(r.get_json()["data"]["access_token"])
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True,
                         capture_output=True, text=True)
    return out.stdout.strip().splitlines()[-1]


class Server:
    def __init__(self, app: str, db: Path, extra: dict[str, str]) -> None:
        self.port = free_port()
        env = {**base_env(db), **extra, "BIND": f"127.0.0.1:{self.port}"}
        self.proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py",
                                      app], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/v1/nope", timeout=1)
            except urllib.error.HTTPError:
                break  # answered (404)
            except OSError:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.stop()
                    raise RuntimeError(f"{app} did not start")
                time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def wrk_script(tmp: Path, name: str, method: str, body: str | None, token: str | None) -> Path:
    lines = [f'wrk.method = "{method}"', 'wrk.headers["Content-Type"] = "application/json"']
    if body:
        lines.append(f"wrk.body = [[{body}]]")
    if token:
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    path = tmp / (re.sub(r"\W+", "_", name) + ".lua")
    path.write_text("\n".join(lines) + "\n")
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:  # wrk prints -nan when no request finished in time
        return float("nan")
    value, unit = match.groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(port: int, path: str, script: Path, seconds: float, connections: int) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency",
                          "-s", str(script), f"http://127.0.0.1:{port}{path}"],
                         capture_output=True, text=True, check=True).stdout
    if "Latency Distribution" not in out:
        raise RuntimeError("wrk printed no latencies:\n" + out)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p50 = _ms(re.search(r"50%\s+(\S+)", out).group(1))
    p99 = _ms(re.search(r"99(?:\.000)?%\s+(\S+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"rps": rps, "p50": p50, "p99": p99, "non2xx": int(bad.group(1)) if bad else 0}


def argon2_verify_seconds() -> float:
    sys.path.insert(0, str(ROOT))
    from argon2 import PasswordHasher

    from config import BaseConfig

    ph = PasswordHasher(time_cost=BaseConfig.ARGON2_TIME_COST,
                        memory_cost=BaseConfig.ARGON2_MEMORY_COST,
                        parallelism=BaseConfig.ARGON2_PARALLELISM)
    h = ph.hash(PASSWORD)
    start = time.perf_counter()
    for _ in range(10):
        ph.verify(h, PASSWORD)
    return (time.perf_counter() - start) / 10


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--smoke", action="store_true", help="one 2-second round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", default=None, help="WEB_CONCURRENCY for both apps")
    parser.add_argument("--worker-class", default=None, help="sync or gthread")
    args = parser.parse_args()
    if args.smoke:
        args.rounds, args.seconds = 1, 2
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    extra = {}
    if args.workers:
        extra["WEB_CONCURRENCY"] = args.workers
    if args.worker_class:
        extra["GUNICORN_WORKER_CLASS"] = args.worker_class
        extra["GUNICORN_THREADS"] = "4" if args.worker_class == "gthread" else "1"
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        ours_db, floor_db = tmp / "ours.db", tmp / "floor.db"
        token = seed(ours_db)
        shutil.copy(ours_db, floor_db)
        for suffix in ("-wal", "-shm"):
            if Path(str(ours_db) + suffix).exists():
                shutil.copy(str(ours_db) + suffix, str(floor_db) + suffix)
        floor_token = token  # same secret, same claims: the floor verifies it too
        results: dict[tuple[str, str], list[dict]] = {}
        servers = {"ours": Server("wsgi:app", ours_db, extra),
                   "floor": Server("bench.floor:app", floor_db, extra)}
        try:
            for round_no in range(args.rounds):
                for name, method, path, body, tok in SCENARIOS + [LOGIN]:
                    order = ("ours", "floor") if round_no % 2 == 0 else ("floor", "ours")
                    for who in order:
                        t = {"good": token if who == "ours" else floor_token,
                             "bad": "not.a.token", None: None}[tok]
                        script = wrk_script(tmp, f"{who}-{name}", method, body, t)
                        conns = 4 if name == "login" else args.connections
                        results.setdefault((name, who), []).append(
                            run_wrk(servers[who].port, path, script, args.seconds, conns))
        finally:
            for server in servers.values():
                server.stop()
    report(results, args, extra)
    return 0


def report(results: dict, args: argparse.Namespace, extra: dict[str, str]) -> None:
    cores = os.cpu_count() or 1
    print(f"machine: {cores} cores, {_cpu_model()}; gunicorn: config/gunicorn.conf.py"
          f"{' ' + str(extra) if extra else ''}; wrk -t2 -c{args.connections}, "
          f"{args.rounds} rounds x {args.seconds:g}s, median round")
    print(f"{'scenario':26} {'ours rps':>10} {'floor rps':>10} {'ratio':>6} "
          f"{'ours p50':>9} {'ours p99':>9} {'floor p99':>9} {'p99 x':>6}")
    failed = False
    for name, *_ in SCENARIOS + [LOGIN]:
        ours = _median(results[(name, "ours")])
        floor = _median(results[(name, "floor")])
        # a short round on a busy machine can finish no request at all
        ratio = ours["rps"] / floor["rps"] if floor["rps"] else float("nan")
        p99x = ours["p99"] / floor["p99"] if floor["p99"] else float("nan")
        print(f"{name:26} {ours['rps']:10.0f} {floor['rps']:10.0f} {ratio:6.2f} "
              f"{ours['p50']:8.2f}ms {ours['p99']:8.2f}ms {floor['p99']:8.2f}ms {p99x:6.2f}")
        if name != "login" and not (ratio >= 0.9 and p99x <= 1.2):
            failed = True
    verify = argon2_verify_seconds()
    login = _median(results[("login", "ours")])["rps"]
    print(f"login: {login / cores:.1f} logins/s per core; one argon2id verification "
          f"{verify * 1000:.1f} ms in-process = {1 / verify:.1f}/s per core ceiling "
          f"({login / cores * verify:.0%} of it)")
    print("goal (non-login: ratio >= 0.90, p99 <= 1.2x):", "NOT MET" if failed else "met")


def _median(rounds: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in rounds) for k in ("rps", "p50", "p99")}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


if __name__ == "__main__":
    sys.exit(main())
