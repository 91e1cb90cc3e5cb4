"""Real servers for the client's tests: migrations, then gunicorn on a free loopback port.

The client tests own this helper (tests/server.py serves the server's own
tests): logs go to a file (never an unread pipe that could fill up and stall
gunicorn), every wait is bounded, and stop() always reaps the process.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from tests.server import free_port, stop_process

if TYPE_CHECKING:
    from gatehouse_client import GatehouseClient

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
CLIENT_DIR = ROOT / "client"
JWT_SECRET = "client-tests-jwt-" + "k" * 40
GUNICORN_CONF = ROOT / "config" / "gunicorn.conf.py"
PASSWORD = "client-password-1"
_names = itertools.count(1)


class Recorder(list):
    """Stands in for time.sleep: records the waits, never waits."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def unique(prefix: str) -> str:
    return f"{prefix}{os.getpid()}x{next(_names)}"


def signup(client: "GatehouseClient", prefix: str = "user") -> dict[str, Any]:
    """Register a fresh user and log the client in; the new account."""
    name = unique(prefix)
    user = client.register(name, f"{name}@example.com", PASSWORD)
    client.login(name, PASSWORD)
    return user


def server_env(db_url: str, **extra: str) -> dict[str, str]:
    """development settings, cheap argon2, no rate limits unless asked."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TEST_", "RATELIMIT_", "GUNICORN_", "REDIS_"))}
    env.update({"APP_ENV": "development", "DATABASE_URL": db_url,
                "RATELIMIT_ENABLED": "false", "ARGON2_TIME_COST": "1",
                "ARGON2_MEMORY_COST": "1024", "ARGON2_PARALLELISM": "1",
                "SECRET_KEY": "client-tests-secret-" + "s" * 40,
                "JWT_SECRET_KEY": JWT_SECRET, "LOG_LEVEL": "WARNING",
                "AUTH_GENERIC_LOGIN_ERRORS": "false"})
    env.update(extra)
    return env


def flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """`flask --app wsgi ARGS` against the same database; fails loudly."""
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"flask {' '.join(args)}: {done.stderr[-2000:]}"
    return done


def migrate(env: dict[str, str]) -> None:
    flask(env, "db", "upgrade")


class Server:
    """`gunicorn -c config/gunicorn.conf.py wsgi:app` on 127.0.0.1:<free port>."""

    def __init__(self, env: dict[str, str], log: Path, workers: int = 2,
                 port: int | None = None) -> None:
        self.env = env
        self.port = port or free_port()  # a port: a restart where clients already point
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log
        # -b/-w on the command line win over the config file's BIND/WEB_CONCURRENCY
        self._log = open(log, "wb")
        self.proc = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", str(GUNICORN_CONF),
             "-b", f"127.0.0.1:{self.port}", "-w", str(workers), "wsgi:app"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-3000:]

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/health/live", timeout=1):
                    return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise TimeoutError(f"gunicorn did not answer within {timeout} s:\n{self.log()}")

    def stop(self) -> None:
        try:
            stop_process(self.proc)
        finally:
            self._log.close()


@contextlib.contextmanager
def running(env: dict[str, str], log: Path, workers: int = 2,
            port: int | None = None) -> Iterator[Server]:
    server = Server(env, log, workers, port)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
