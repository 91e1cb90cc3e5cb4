"""Start the real thing for tests: migrations, then gunicorn on a free loopback port."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
PG_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_PG = PG_URL.startswith("postgresql")
# what a PostgreSQL-only test says when skipped, and a SQLite-only one
NOT_PG = ("TEST_DATABASE_URL is not set (CI sets it)" if not PG_URL
          else "TEST_DATABASE_URL does not name a PostgreSQL database")
ONLY_SQLITE = "SQLite only: TEST_DATABASE_URL names PostgreSQL"
TEST_MAIL_DIR = Path(tempfile.gettempdir()) / f"gatehouse-test-mail-{os.getpid()}"


def pg_admin() -> Any:
    """A connection to the PostgreSQL server of TEST_DATABASE_URL, for
    creating and dropping databases."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(PG_URL).set(drivername="postgresql", database="postgres")
    return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)


def terminate_backends(url: str, admin: Any = None) -> int:
    """End every server backend of url's database but the caller's own (a
    test's pooled connections included): what a database restart, a
    failover or an admin's kill does to a pool. Returns how many. `admin`:
    an open pg_admin() connection to reuse."""
    from sqlalchemy.engine import make_url

    if admin is None:
        with pg_admin() as admin:
            return terminate_backends(url, admin)
    return admin.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                         "WHERE datname = %s AND pid <> pg_backend_pid()",
                         (make_url(url).database,)).fetchone()[0]


@contextmanager
def fresh_database(tmp_path: Path, prefix: str) -> Iterator[str]:
    """The URL of a new, empty database of the kind this run tests: a SQLite
    file, or (TEST_DATABASE_URL naming PostgreSQL) a database of its own,
    dropped afterwards."""
    if not ON_PG:
        yield f"sqlite:///{tmp_path}/{prefix}.db"
        return
    from sqlalchemy.engine import make_url

    name = f"gh_{prefix}_{uuid.uuid4().hex[:10]}"
    with pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen) -> None:
    """SIGTERM (gunicorn's graceful stop), then SIGKILL if it hangs."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEST_")}
    env.update({"APP_ENV": "development", "DATABASE_URL": db_url,
                "RATELIMIT_ENABLED": "false", "ARGON2_TIME_COST": "1",
                "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1",
                "SECRET_KEY": "s" * 48, "LOG_LEVEL": "WARNING",
                # development without MAIL_URL writes each message as a file:
                # into the test run's temporary directory, not the project's instance/
                "MAIL_DIR": str(TEST_MAIL_DIR)})
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                   check=True, capture_output=True, timeout=120)


class Gunicorn:
    """`gunicorn -c config/gunicorn.conf.py wsgi:app`, as the README runs it."""

    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**env, "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers)}
        self.env = env
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("gunicorn exited: " + self.proc.stderr.read().decode()[-2000:])
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise TimeoutError("gunicorn did not answer in time")

    def call(self, method: str, path: str, body: Any = None,
             headers: dict[str, str] | None = None,
             raw: bytes | None = None) -> tuple[int, Any, Any]:
        """One request: (status, headers, parsed JSON body). Anything but JSON fails."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None
                                            else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.headers, json.loads(resp.read())
        except urllib.error.HTTPError as err:
            with err:
                assert err.headers["Content-Type"].startswith("application/")
                return err.code, err.headers, json.loads(err.read())

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc.stderr.close()


def running(env: dict[str, str], workers: int = 2) -> Iterator[Gunicorn]:
    server = Gunicorn(env, workers)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
