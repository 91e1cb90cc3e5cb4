"""Slow clients cannot take the threads: requests are read in full first (config/buffering.py)."""
from __future__ import annotations

import inspect
import json
import socket
import time
import uuid
from pathlib import Path
from typing import Iterator

import pytest
from gunicorn.http.unreader import Unreader
from gunicorn.workers import gthread

from bench.slowloris import attack
from config.buffering import (
    COMPLETE, HEAD_TOO_LARGE, MORE, TOO_LARGE, BufferingThreadWorker, arrival, read_timeout,
    without_expect)
from tests.helpers import PASSWORD
from tests.server import Gunicorn, fresh_database, migrate, running, server_env

GET = b"GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n"


def post(body: bytes, *headers: bytes) -> bytes:
    return (b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)


def login_body() -> bytes:
    """A login of an unknown account: answered 404 (code 21) once the body is
    read and parsed (another account each time: no per-account backoff)."""
    return json.dumps({"login": f"nobody-{uuid.uuid4().hex[:12]}",
                       "password": PASSWORD}).encode()


@pytest.mark.parametrize("data, state", [
    (GET, COMPLETE),
    (GET[:-2], MORE),
    (b"GET / HTTP/1.1\r\nHost: x", MORE),
    (b"", MORE),
    (post(b'{"a":1}', b"Content-Length: 7"), COMPLETE),
    (post(b'{"a":', b"Content-Length: 7"), MORE),
    (post(b'{"a":1}', b"content-length:   7"), COMPLETE),
    (post(b"", b"Content-Length: 70000"), TOO_LARGE),
    # what gunicorn refuses at once is handed to it at once
    (post(b"", b"Content-Length: 7x"), COMPLETE),
    (post(b"", b"Content-Length: 7", b"Content-Length: 7"), COMPLETE),
    (post(b"", b"Content-Length: 7", b"Transfer-Encoding: chunked"), COMPLETE),
    # chunked bodies
    (post(b"7\r\n{\"a\":1}\r\n0\r\n\r\n", b"Transfer-Encoding: chunked"), COMPLETE),
    (post(b"7;ext=1\r\n{\"a\":1}\r\n0\r\nX-T: 1\r\n\r\n", b"Transfer-Encoding: chunked"),
     COMPLETE),
    (post(b"7\r\n{\"a\":1}\r\n0\r\n", b"Transfer-Encoding: chunked"), MORE),
    (post(b"7\r\n{\"a\"", b"Transfer-Encoding: chunked"), MORE),
    (post(b"7\r\n", b"Transfer-Encoding: chunked"), MORE),
    (post(b"zz\r\n", b"Transfer-Encoding: chunked"), COMPLETE),
    (post(b"20000\r\n", b"Transfer-Encoding: chunked"), TOO_LARGE),
    (b"GET / HTTP/1.1\r\nX: " + b"a" * 70_000, HEAD_TOO_LARGE),
])
def test_arrival(data: bytes, state: str) -> None:
    assert arrival(data)[0] == state


def test_expect_100_continue_is_seen_and_removed() -> None:
    data = post(b"", b"Expect: 100-continue", b"Content-Length: 7")
    state, end, expect = arrival(data)
    assert (state, expect) == (MORE, True)
    stripped = without_expect(data, end)
    assert b"expect" not in stripped.lower() and stripped.endswith(b"Content-Length: 7\r\n\r\n")
    assert arrival(stripped + b'{"a":1}') == (COMPLETE, stripped.find(b"\r\n\r\n"), False)
    # HTTP/1.0 ignores the expectation (RFC 9110 10.1.1)
    assert not arrival(data.replace(b"HTTP/1.1", b"HTTP/1.0"))[2]


@pytest.mark.parametrize("value", ["soon", "0", "-1", "99999"])
def test_a_bad_read_timeout_stops_start_up(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GUNICORN_REQUEST_READ_TIMEOUT", value)
    with pytest.raises(ValueError, match="GUNICORN_REQUEST_READ_TIMEOUT"):
        read_timeout()
    monkeypatch.setenv("GUNICORN_REQUEST_READ_TIMEOUT", "2.5")
    assert read_timeout() == 2.5


def test_the_gunicorn_internals_it_relies_on() -> None:
    """gunicorn is pinned; an upgrade that changes these fails here first."""
    assert "enqueue_req" in vars(gthread.ThreadWorker)
    assert "murder_pending" in vars(gthread.ThreadWorker)
    assert list(inspect.signature(gthread.TConn.__init__).parameters) == [
        "self", "cfg", "sock", "client", "server"]
    source = inspect.getsource(gthread.ThreadWorker.handle)
    assert "if not conn.initialized and not conn.data_ready" in source
    assert "self.murder_pending()" in inspect.getsource(gthread.ThreadWorker.run)
    assert "conn.parser.unreader.buf.getvalue()" in inspect.getsource(
        gthread.ThreadWorker.finish_request)
    unreader = Unreader()
    unreader.unread(b"abc")
    assert unreader.take_buffered() == b"abc"
    assert issubclass(BufferingThreadWorker, gthread.ThreadWorker)


# --- under gunicorn -----------------------------------------------------------------

READ_TIMEOUT = 2


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    tmp: Path = tmp_path_factory.mktemp("buffering")
    with fresh_database(tmp, "buffering") as url:
        env = server_env(url, GUNICORN_REQUEST_READ_TIMEOUT=str(READ_TIMEOUT))
        env.pop("GUNICORN_WORKER_CLASS", None)
        env.pop("GUNICORN_THREADS", None)
        migrate(env)
        # the default shape: 4 threads per worker, here 2 workers
        yield from running(env, workers=2)


def exchange(server: Gunicorn, *parts: bytes, pause: float = 0.0,
             timeout: float = 10) -> bytes:
    """Send the parts (pausing between them), then read until the server closes."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=timeout) as sock:
        for i, part in enumerate(parts):
            if i and pause:
                time.sleep(pause)
            sock.sendall(part)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data


def envelope(response: bytes) -> dict:
    return json.loads(response.split(b"\r\n\r\n", 1)[1])["meta"]


@pytest.mark.slow
def test_slow_clients_do_not_stop_the_service(server: Gunicorn) -> None:
    threads = 2 * 4
    # dribbled headers, a dribbled body, and whole requests with Connection:
    # close whose client then neither reads nor closes
    for mode in ("headers", "body", "unread"):
        result = attack("127.0.0.1", server.port, 2 * threads, mode, seconds=4,
                        probe_timeout=2, interval=0.2)
        assert result.failures == 0, result.summary()
        assert max(result.latencies) < 1.0, result.summary()
        if mode != "unread":
            # the server closed each at its deadline (and they were reopened)
            assert result.reconnects >= 2 * threads, result.summary()


@pytest.mark.slow
def test_a_request_sent_in_pieces_is_served(server: Gunicorn) -> None:
    body = login_body()
    request = post(body, b"Content-Length: %d" % len(body), b"Connection: close")
    pieces = [request[:10], request[10:60], request[60:-5], request[-5:]]
    response = exchange(server, *pieces, pause=0.2)
    assert response.startswith(b"HTTP/1.1 404"), response
    assert envelope(response)["reason"] == "auth.login.unknown_user"


@pytest.mark.slow
def test_chunked_and_pipelined_requests_are_served(server: Gunicorn) -> None:
    body = login_body()
    chunked = post(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body), b"Transfer-Encoding: chunked")
    last = GET.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n")
    response = exchange(server, chunked + GET + last)
    assert response.startswith(b"HTTP/1.1 404"), response
    assert response.count(b"HTTP/1.1 200") == 2, response


@pytest.mark.slow
def test_expect_100_continue_is_answered_once(server: Gunicorn) -> None:
    body = login_body()
    head = post(b"", b"Content-Length: %d" % len(body), b"Expect: 100-continue",
                b"Connection: close")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        assert sock.recv(1024) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 404") and b"100 Continue" not in data, data


@pytest.mark.slow
def test_a_body_over_the_limit_is_refused_unread(server: Gunicorn) -> None:
    started = time.monotonic()
    response = exchange(server, post(b"{", b"Content-Length: 100000"))
    assert time.monotonic() - started < 1
    assert response.startswith(b"HTTP/1.1 400")
    meta = envelope(response)
    assert (meta["code"], meta["reason"]) == (88, "request.body.too_large")


@pytest.mark.slow
def test_a_request_that_does_not_arrive_in_time_is_closed(server: Gunicorn) -> None:
    started = time.monotonic()
    response = exchange(server, b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
    assert READ_TIMEOUT - 0.1 <= time.monotonic() - started < READ_TIMEOUT + 2
    meta = envelope(response)
    assert (meta["code"], meta["reason"]) == (88, "request.read.timeout")
    # a connection that sends nothing is closed without an answer
    assert exchange(server) == b""


@pytest.mark.slow
def test_a_refused_body_is_drained_so_the_client_reads_the_answer(server: Gunicorn) -> None:
    """A client sending a large body before reading gets the 88, not a reset."""
    head = post(b"", b"Content-Length: 200000", b"Connection: close")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(head)
        try:
            sock.sendall(b" " * 200_000)
        except OSError:
            pass
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert (envelope(data)["code"], envelope(data)["reason"]) == (88, "request.body.too_large")
