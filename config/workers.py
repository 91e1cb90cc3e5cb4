"""gunicorn's threaded worker, accepting a connection only with a thread free.

gunicorn's gthread worker accepts every connection it can while it is below
`worker_connections` (1,000), busy or not. When clients connect together (a
proxy opening its pool, a load generator, a reconnect after a deploy), the
first worker to wake often takes them all, and serves them under one GIL
while the other workers stand idle (bench/README.md has the measurements).
gunicorn's issues #908 and #3433 describe the same thing.

This worker accepts only while one of its threads is free, so a connection
arriving while its threads are busy waits in the listen queue for a worker
that can serve it. Nothing else changes: kept-alive connections still count
against `worker_connections`, and are not refused for being idle.

gunicorn has no public hook for this: the worker overrides gthread's
`enqueue_req` and `finish_request`, so gunicorn is pinned exactly
(requirements.txt, setup.cfg) and tests/test_library_pins.py fails on an
upgrade that changes what they rely on.
"""
from __future__ import annotations

from typing import Any

from gunicorn.workers.gthread import ThreadWorker


class FairThreadWorker(ThreadWorker):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.busy_threads = 0  # connections handed to the pool, not yet finished
        self._connection_limit = 0
        super().__init__(*args, **kwargs)

    # gthread's loop accepts while nr_conns < worker_connections: the limit
    # reads as "full" while every thread is busy
    @property  # type: ignore[override]
    def worker_connections(self) -> int:
        if self.busy_threads >= self.cfg.threads:
            return int(self.nr_conns)
        return self._connection_limit

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._connection_limit = value

    # both run on the worker's main thread (the poller's callbacks and its
    # method queue), so the count needs no lock
    def enqueue_req(self, conn: Any) -> None:
        self.busy_threads += 1
        super().enqueue_req(conn)

    def finish_request(self, conn: Any, fs: Any) -> None:
        self.busy_threads -= 1
        super().finish_request(conn, fs)
