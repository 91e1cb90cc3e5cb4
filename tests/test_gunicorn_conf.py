"""config/gunicorn.conf.py: settings from the environment, and gunicorn's own
errors (requests it rejects before the app runs) written as the envelope."""
from __future__ import annotations

import json
import multiprocessing
import os
import runpy
import socket
from typing import Any

import pytest
from gunicorn import util

from config import ROOT

CONF = str(ROOT / "config" / "gunicorn.conf.py")
_ENV = ("BIND", "HOST", "PORT", "WEB_CONCURRENCY", "GUNICORN_WORKER_CLASS", "GUNICORN_THREADS",
        "GUNICORN_MAX_REQUESTS", "GUNICORN_MAX_REQUESTS_JITTER", "FORWARDED_ALLOW_IPS",
        "GUNICORN_ACCESS_LOG", "LOG_LEVEL", "LOG_ACCESS", "GUNICORN_CONTROL_SOCKET")


def load(monkeypatch: pytest.MonkeyPatch, **env: str) -> dict[str, Any]:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    # the file patches gunicorn.util.write_error and sets defaults in the
    # environment for the app: undo both after the test
    monkeypatch.setattr(util, "write_error", util.write_error)
    monkeypatch.setattr(os, "environ", dict(os.environ))
    return runpy.run_path(CONF)


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    assert conf["bind"] == "127.0.0.1:8000"
    # one worker per core, 8 threads each (bench/README.md, "Worker class and count",
    # "Logins beside reads")
    assert conf["workers"] == multiprocessing.cpu_count()
    assert (conf["worker_class"], conf["threads"]) == (
        "config.buffering.BufferingThreadWorker", 8)
    assert (conf["max_requests"], conf["max_requests_jitter"]) == (20000, 2000)
    assert (conf["timeout"], conf["graceful_timeout"], conf["keepalive"]) == (30, 30, 5)
    assert conf["preload_app"] is True
    assert (conf["accesslog"], conf["errorlog"]) == ("-", "-")
    assert conf["forwarded_allow_ips"] == "127.0.0.1"
    fmt = conf["access_log_format"]
    for atom in ("%(m)s", "%(U)s", "%(s)s", "%(M)s", "%({x-request-id}o)s"):
        assert atom in fmt
    assert "%(r)s" not in fmt and "%(q)s" not in fmt  # no query strings in logs


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, HOST="0.0.0.0", PORT="9000", WEB_CONCURRENCY="3",
                GUNICORN_WORKER_CLASS="sync", GUNICORN_THREADS="4",
                FORWARDED_ALLOW_IPS="10.0.0.1,10.0.0.2")
    assert conf["bind"] == "0.0.0.0:9000"
    assert (conf["workers"], conf["worker_class"], conf["threads"]) == (3, "sync", 4)
    assert conf["forwarded_allow_ips"] == "10.0.0.1,10.0.0.2"
    assert load(monkeypatch, BIND="unix:/run/gh.sock", PORT="9000")["bind"] == "unix:/run/gh.sock"


def test_sync_workers_default_to_one_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    # with threads > 1 gunicorn would quietly run gthread instead
    conf = load(monkeypatch, GUNICORN_WORKER_CLASS="sync")
    assert (conf["worker_class"], conf["threads"]) == ("sync", 1)
    # single-threaded: more processes to cover the waits on the database
    assert conf["workers"] == 2 * multiprocessing.cpu_count() + 1


def test_other_worker_classes_go_to_gunicorn_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch, GUNICORN_WORKER_CLASS="gunicorn.workers.gthread.ThreadWorker")
    assert (conf["worker_class"], conf["threads"]) == ("gunicorn.workers.gthread.ThreadWorker", 8)


def _written(write: Any, status: int) -> tuple[str, dict[str, str], dict[str, Any]]:
    a, b = socket.socketpair()
    with a, b:
        write(a, status, "Bad Request", "Invalid request line '<script>secret-path'")
        a.shutdown(socket.SHUT_WR)
        raw = b"".join(iter(lambda: b.recv(65536), b""))
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert int(headers["Content-Length"]) == len(body)
    return status_line, headers, json.loads(body)


@pytest.mark.parametrize("status", [400, 403, 414, 431])
def test_rejected_requests_get_the_envelope(monkeypatch: pytest.MonkeyPatch,
                                            status: int) -> None:
    load(monkeypatch)
    status_line, headers, body = _written(util.write_error, status)
    assert status_line == "HTTP/1.1 400 Bad Request"
    assert headers["Content-Type"] == "application/json"
    assert body == {"meta": {"code": 88, "message": "Invalid Parameter",
                             "description": "The request could not be understood.",
                             "reason": "request.body.bad_request",
                             "request_id": headers["X-Request-ID"]}}


def test_crash_outside_the_app_is_500(monkeypatch: pytest.MonkeyPatch) -> None:
    load(monkeypatch)
    status_line, headers, body = _written(util.write_error, 500)
    assert status_line == "HTTP/1.1 500 Internal Server Error"
    assert body["meta"]["code"] == 500 and body["meta"]["reason"] == "server.internal.error"
    assert "secret-path" not in json.dumps(body)  # gunicorn's message echoes the request


def test_master_freezes_the_preloaded_heap_before_forking(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    conf = load(monkeypatch)
    assert gc.get_freeze_count() == 0
    try:
        conf["when_ready"](None)
        # everything alive now (the preloaded app) is out of the collector's reach
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()


def test_one_access_line_per_request(monkeypatch: pytest.MonkeyPatch) -> None:
    # gunicorn's access log on: the app's own line is off, unless asked for
    load(monkeypatch)
    assert os.environ["LOG_ACCESS"] == "false"
    load(monkeypatch, LOG_ACCESS="true")
    assert os.environ["LOG_ACCESS"] == "true"
    # gunicorn's off: the app keeps its own
    load(monkeypatch, GUNICORN_ACCESS_LOG="")
    assert "LOG_ACCESS" not in os.environ


def test_control_socket_is_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    conf = load(monkeypatch)
    assert conf["control_socket_disable"] is True and "control_socket" not in conf
    conf = load(monkeypatch, GUNICORN_CONTROL_SOCKET="/run/gatehouse/gunicorn.ctl")
    assert conf["control_socket"] == "/run/gatehouse/gunicorn.ctl"
    assert "control_socket_disable" not in conf
