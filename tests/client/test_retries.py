"""The retry policy against a deliberately failing server on loopback."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest


class Script:
    """Answers in order; the last answer repeats."""

    def __init__(self, answers: list[tuple[int, int, dict[str, str]]]) -> None:
        self.answers = answers
        self.calls: list[str] = []


def _envelope(code: int) -> dict:
    if code == 200:
        return {"meta": {"code": 200, "message": "OK"}, "data": {"ok": True}}
    return {"meta": {"code": code, "message": "x", "description": "d", "reason": "r.r.r",
                     "request_id": "rid"}}


@pytest.fixture
def failing() -> Iterator[tuple[str, Script]]:
    script = Script([])

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            script.calls.append(self.command)
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            index = min(len(script.calls) - 1, len(script.answers) - 1)
            status, code, headers = script.answers[index]
            body = json.dumps(_envelope(code)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PATCH = _answer

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def make(url: str, **kwargs: object) -> tuple[object, list[float]]:
    from gatehouse_client import GatehouseClient

    sleeps: list[float] = []
    return GatehouseClient(url, sleep=sleeps.append, rng=lambda: 0.0, **kwargs), sleeps


def test_77_then_success(failing: tuple[str, Script]) -> None:
    url, script = failing
    script.answers = [(500, 77, {}), (500, 77, {}), (200, 200, {})]
    client, sleeps = make(url, backoff=1.0)
    assert client.me() == {"ok": True}
    assert script.calls == ["GET"] * 3
    assert sleeps == [0.5, 1.0]  # full jitter with rng 0: half of 1, 2
    client.close()


def test_77_gives_up_after_max_retries(failing: tuple[str, Script]) -> None:
    from gatehouse_client import DatabaseRollback

    url, script = failing
    script.answers = [(500, 77, {})]
    client, sleeps = make(url, max_retries=4, backoff=1.0, max_backoff=3.0)
    with pytest.raises(DatabaseRollback):
        client.me()
    assert len(script.calls) == 5
    assert sleeps == [0.5, 1.0, 1.5, 1.5]  # capped at max_backoff
    client.close()


def test_500_is_retried_once(failing: tuple[str, Script]) -> None:
    from gatehouse_client import UnknownError

    url, script = failing
    script.answers = [(500, 500, {})]
    client, sleeps = make(url)
    with pytest.raises(UnknownError) as info:
        client.me()
    assert len(script.calls) == 2 and len(sleeps) == 1
    assert (info.value.status, info.value.request_id) == (500, "rid")
    client.close()


def test_429_honours_retry_after(failing: tuple[str, Script]) -> None:
    url, script = failing
    script.answers = [(429, 429, {"Retry-After": "7"}), (200, 200, {})]
    client, sleeps = make(url)
    assert client.health() == {"ok": True}
    assert sleeps == [7.0]
    client.close()


@pytest.mark.parametrize("status,code", [(400, 88), (400, 22), (404, 21), (404, 10)])
def test_client_errors_are_never_retried(failing: tuple[str, Script], status: int,
                                         code: int) -> None:
    from gatehouse_client import ERRORS

    url, script = failing
    script.answers = [(status, code, {})]
    client, sleeps = make(url)
    with pytest.raises(ERRORS[code]):
        client.me()
    assert (len(script.calls), sleeps) == (1, [])
    client.close()


def test_post_is_retried_only_when_the_caller_opts_in(failing: tuple[str, Script]) -> None:
    from gatehouse_client import DatabaseRollback

    url, script = failing
    script.answers = [(500, 77, {}), (200, 200, {})]
    client, sleeps = make(url)
    with pytest.raises(DatabaseRollback):
        client.update_me(display_name="x")  # PATCH: not idempotent
    assert len(script.calls) == 1
    script.calls.clear()
    assert client.request("POST", "/v1/auth/logout", retry_unsafe=True)["data"] == {"ok": True}
    assert len(script.calls) == 2
    client.close()


def test_unknown_code_falls_back_on_status(failing: tuple[str, Script]) -> None:
    from gatehouse_client import InvalidParameter

    url, script = failing
    script.answers = [(400, 123, {})]
    client, _ = make(url)
    with pytest.raises(InvalidParameter) as info:
        client.me()
    assert info.value.code == 123
    client.close()


def test_connection_refused_is_retried_then_raised() -> None:
    import socket

    from gatehouse_client import TransportError

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client, sleeps = make(f"http://127.0.0.1:{port}", max_retries=2)
    with pytest.raises(TransportError):
        client.me()
    assert len(sleeps) == 2
    client.close()
