"""config/workers.py: the threaded worker accepts only with a thread free.

The worker is driven the way gthread's loop drives it, without processes or
sockets: its loop accepts while `nr_conns < worker_connections`, hands each
connection to the pool (`enqueue_req`) and hears back on its main thread
(`finish_request`). That it serves real traffic is shown by every test that
runs the app under gunicorn (tests/test_server.py), whose default it is.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import Future
from typing import Any, Iterator

import pytest
from gunicorn.config import Config
from gunicorn.util import load_class

from config.workers import FairThreadWorker


class _Pool:
    """Keeps what was submitted; nothing runs."""

    def __init__(self) -> None:
        self.submitted: list[Future] = []

    def submit(self, fn: Any, *args: Any) -> Future:
        future: Future = Future()
        self.submitted.append(future)
        return future


class _Conn:
    closed = False

    def close(self, graceful: bool = False) -> None:  # noqa: ARG002
        self.closed = True


@pytest.fixture()
def worker() -> Iterator[FairThreadWorker]:
    cfg = Config()
    cfg.set("threads", 2)
    cfg.set("worker_connections", 50)
    made = FairThreadWorker(1, os.getpid(), [], None, 30, cfg, logging.getLogger("test"))
    made.tpool = _Pool()
    yield made
    made.tmp.close()  # the heartbeat file every gunicorn worker opens


def _accept(worker: FairThreadWorker) -> _Conn:
    """What gthread's accept does once the loop lets it."""
    assert worker.nr_conns < worker.worker_connections, "the loop would not accept"
    conn = _Conn()
    worker.nr_conns += 1
    worker.enqueue_req(conn)
    return conn


def _done(worker: FairThreadWorker, conn: _Conn) -> None:
    future = worker.tpool.submitted.pop(0)
    future.set_result(False)  # the connection closes after its request
    worker.finish_request(conn, future)


def test_gunicorn_loads_it_by_the_configured_name() -> None:
    assert load_class("config.workers.FairThreadWorker") is FairThreadWorker


def test_accepts_while_a_thread_is_free(worker: FairThreadWorker) -> None:
    assert worker.worker_connections == 50
    first = _accept(worker)
    assert worker.worker_connections == 50  # one thread still free
    second = _accept(worker)
    assert worker.busy_threads == 2
    assert not worker.nr_conns < worker.worker_connections  # both busy: no accept
    _done(worker, first)
    assert first.closed and worker.busy_threads == 1 and worker.nr_conns == 1
    assert worker.nr_conns < worker.worker_connections  # a thread is free again
    _done(worker, second)
    assert (worker.busy_threads, worker.nr_conns) == (0, 0)


def test_idle_kept_alive_connections_do_not_stop_it(worker: FairThreadWorker) -> None:
    """Only busy threads stop accepting, not connections waiting idle."""
    worker.nr_conns = 30  # kept alive, not in the pool
    assert worker.nr_conns < worker.worker_connections
    worker.nr_conns = 50  # the configured limit still holds
    assert not worker.nr_conns < worker.worker_connections
