"""Slow clients against gunicorn: does /health/live keep answering?

N connections each dribble a request a byte a second, headers that never
end (``--mode headers``) or a body that never completes (``--mode body``);
a connection the server closes is opened again at once, so N stay open.
``--mode unread`` sends whole requests with ``Connection: close`` and then
neither reads nor closes, each connection held 5 s and then replaced: the
server must close them without waiting on the client.
Meanwhile a probe asks GET /health/live on a new connection every 0.2 s
and times the answer (a probe with no answer within ``--probe-timeout``
counts as a failure, at that time).

    .venv/bin/python bench/slowloris.py                 # threads and 2 x threads, both modes
    .venv/bin/python bench/slowloris.py --connections 8 --mode body --seconds 12
    .venv/bin/python bench/slowloris.py --target 127.0.0.1:8000   # a running server

Without ``--target`` it starts gunicorn the way the README does
(config/gunicorn.conf.py, default workers and threads) on a temporary
SQLite database, on loopback. ``--env KEY=VALUE`` changes its settings.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

HEADERS_START = b"GET /health/live HTTP/1.1\r\nHost: slow\r\nX-Slow: "
BODY_START = (b"POST /v1/auth/login HTTP/1.1\r\nHost: slow\r\n"
              b"Content-Type: application/json\r\nContent-Length: 4096\r\n\r\n{")
UNREAD_START = b"GET /health/live HTTP/1.1\r\nHost: slow\r\nConnection: close\r\n\r\n"
# an "unread" connection is held this long, then replaced
UNREAD_HOLD = 5.0
STARTS = {"headers": HEADERS_START, "body": BODY_START, "unread": UNREAD_START}


@dataclass
class Result:
    connections: int
    mode: str
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, answered probes
    failures: int = 0
    reconnects: int = 0

    @property
    def probes(self) -> int:
        return len(self.latencies) + self.failures

    def summary(self) -> str:
        lat = sorted(self.latencies)
        p50 = f"{statistics.median(lat) * 1000:.0f}ms" if lat else "-"
        worst = f"{lat[-1] * 1000:.0f}ms" if lat else "-"
        return (f"{self.connections:3d} slow ({self.mode:7s}) {self.probes:3d} probes: "
                f"{len(lat):3d} answered, {self.failures:3d} failed; p50 {p50}, max {worst}; "
                f"{self.reconnects} slow connections replaced")


class SlowClients:
    """N connections, each sent one more byte a second."""

    def __init__(self, host: str, port: int, count: int, mode: str) -> None:
        self.address = (host, port)
        self.start = STARTS[mode]
        self.mode = mode
        self.opened: dict[socket.socket, float] = {}
        self.count = count
        self.socks: list[socket.socket] = []
        self.reconnects = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> socket.socket | None:
        try:
            sock = socket.create_connection(self.address, timeout=2)
            sock.sendall(self.start)
            sock.setblocking(False)
            self.opened[sock] = time.monotonic()
            return sock
        except OSError:
            return None

    def __enter__(self) -> "SlowClients":
        self.socks = [s for s in (self._open() for _ in range(self.count)) if s]
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        for sock in self.socks:
            sock.close()

    def _run(self) -> None:
        while not self.stop.wait(1.0):
            # a socket the server answered or closed is replaced (an unread
            # one when its time is up)
            if self.mode == "unread":
                now = time.monotonic()
                readable = [s for s in self.socks if now - self.opened[s] > UNREAD_HOLD]
            else:
                readable = select.select(self.socks, [], [], 0)[0] if self.socks else []
            alive = []
            for sock in self.socks:
                ok = sock not in readable
                if ok and self.mode != "unread":
                    try:
                        sock.send(b"a")
                    except OSError:
                        ok = False
                if ok:
                    alive.append(sock)
                else:
                    self.opened.pop(sock, None)
                    sock.close()
                    self.reconnects += 1
            while len(alive) < self.count and not self.stop.is_set():
                sock = self._open()
                if sock is None:
                    break
                alive.append(sock)
            self.socks = alive


def probe(host: str, port: int, timeout: float) -> float | None:
    """Seconds until GET /health/live answered 200, or None."""
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: probe\r\nConnection: close\r\n\r\n")
            data = b""
            while b"\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return None
                data += chunk
                sock.settimeout(max(0.01, timeout - (time.monotonic() - started)))
    except OSError:
        return None
    return time.monotonic() - started if data.startswith(b"HTTP/1.1 200") else None


def attack(host: str, port: int, connections: int, mode: str, seconds: float,
           probe_timeout: float = 2.0, interval: float = 0.2) -> Result:
    """Hold `connections` slow clients for `seconds`, probing all along."""
    result = Result(connections, mode, seconds)
    with SlowClients(host, port, connections, mode) as slow:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            began = time.monotonic()
            latency = probe(host, port, probe_timeout)
            if latency is None:
                result.failures += 1
            else:
                result.latencies.append(latency)
            time.sleep(max(0.0, interval - (time.monotonic() - began)))
        result.reconnects = slow.reconnects
    return result


def default_threads(env: dict[str, str]) -> int:
    """What config/gunicorn.conf.py runs with these settings: workers x threads."""
    threads = int(env.get("GUNICORN_THREADS") or 4)
    workers = int(env.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
    return workers * threads


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--target", help="host:port of a running server (default: start one)")
    parser.add_argument("--connections", type=int, action="append",
                        help="slow connections (repeatable; default: threads and 2 x threads)")
    parser.add_argument("--mode", choices=tuple(STARTS), action="append",
                        help="what the slow clients do (repeatable; default: all)")
    parser.add_argument("--seconds", type=float, default=12.0)
    parser.add_argument("--probe-timeout", type=float, default=2.0)
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="a setting for the started server")
    args = parser.parse_args(argv)
    extra = dict(item.split("=", 1) for item in args.env)
    threads = default_threads({**os.environ, **extra})
    counts = args.connections or [threads, 2 * threads]
    modes = args.mode or list(STARTS)

    if args.target:
        host, _, port = args.target.rpartition(":")
        for n in counts:
            for mode in modes:
                print(attack(host, int(port), n, mode, args.seconds, args.probe_timeout).summary(),
                      flush=True)
        return 0

    from tests.server import Gunicorn, migrate, server_env

    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(f"sqlite:///{tmp}/slow.db", GUNICORN_ACCESS_LOG="/dev/null", **extra)
        for key in ("WEB_CONCURRENCY", "GUNICORN_THREADS"):
            if key in os.environ and key not in extra:
                env[key] = os.environ[key]
        migrate(env)
        workers = int(env.get("WEB_CONCURRENCY") or multiprocessing.cpu_count())
        server = Gunicorn(env, workers=workers)
        try:
            server.wait_ready()
            print(f"gunicorn: {workers} workers x {env.get('GUNICORN_THREADS') or 4} threads "
                  f"(config/gunicorn.conf.py), {args.seconds:g} s per run", flush=True)
            for n in counts:
                for mode in modes:
                    result = attack("127.0.0.1", server.port, n, mode, args.seconds,
                                    args.probe_timeout)
                    print(result.summary(), flush=True)
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
