"""Hostile input, headers and logs through gunicorn, as a client sees them (SPEC §10).

On SQLite, or on PostgreSQL when TEST_DATABASE_URL names it (where a NUL
and an over-long key used to answer 77).
"""
from __future__ import annotations

import json
import socket
import subprocess
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.server import (
    BIN, ROOT, Gunicorn, fresh_database, migrate, running, server_env, stop_process)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    with fresh_database(tmp_path_factory.mktemp("hostile"), "hostile") as url:
        env = server_env(url)
        migrate(env)
        yield from running(env)


def raw_request(port: int, request: bytes) -> tuple[int, dict[str, str], Any]:
    """Bytes no HTTP library would send: (status, headers, JSON body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
    assert headers["content-type"].startswith("application/json"), raw[:300]
    return int(status_line.split()[1]), headers, json.loads(body)


@pytest.mark.parametrize("coding", ["xchunked", "gzip, chunked"])
def test_unknown_transfer_coding_is_88(server: Gunicorn, coding: str) -> None:
    """gunicorn refuses it itself (was its 501, written as a 500 envelope)."""
    request = (f"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               f"Transfer-Encoding: {coding}\r\nConnection: close\r\n\r\n"
               f"2\r\n{{}}\r\n0\r\n\r\n").encode()
    status, headers, body = raw_request(server.port, request)
    assert (status, body["meta"]["code"], body["meta"]["reason"]) == (
        400, 88, "request.header.unsupported_transfer_encoding")
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


@pytest.mark.parametrize("raw, field", [
    (b'{"login": "\\ud800x", "password": "pw-123456"}', "login"),
    (b'{"\\udfffk": "a", "password": "pw-123456"}', "\\udfffk"),
    (b'{"login": "a\\u0000b", "password": "pw-123456"}', "login"),
])
def test_unstorable_strings_are_88(server: Gunicorn, raw: bytes, field: str) -> None:
    status, _, body = server.call("POST", "/v1/auth/login", raw=raw)
    assert (status, body["meta"]["reason"]) == (400, "request.param.invalid_character")
    assert list(body["meta"]["fields"]) == [field]


def test_deep_nesting_and_long_keys_are_88(server: Gunicorn) -> None:
    status, _, body = server.call("POST", "/v1/auth/login", raw=b"[" * 20000 + b"]" * 20000)
    assert (status, body["meta"]["reason"]) == (400, "request.body.too_deep")
    email = "İ" * 64 + "@" + ".".join(["İ" * 60] * 3) + ".com"
    status, _, body = server.call("POST", "/v1/auth/register", body={
        "username": "ada", "email": email, "password": "pw-123456789"})
    assert (status, list(body["meta"]["fields"])) == (400, ["email"])


def test_every_response_is_nosniff_and_tokens_are_no_store(server: Gunicorn) -> None:
    for method, path in (("GET", "/health/live"), ("GET", "/nope"), ("OPTIONS", "/v1/users/me"),
                         ("GET", "/v1/errors"), ("GET", "/openapi.json")):
        _, headers, _ = server.call(method, path)
        assert headers["X-Content-Type-Options"] == "nosniff", path
    # the docs page's static files: nosniff, and their own caching
    with urllib.request.urlopen(server.url + "/docs/") as resp:
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    user = {"username": "nosy", "email": "nosy@example.com", "password": "pw-123456789"}
    status, headers, _ = server.call("POST", "/v1/auth/register", body=user)
    assert status == 200 and headers["Cache-Control"] == "no-store"
    status, headers, body = server.call("POST", "/v1/auth/login",
                                        body={"login": "nosy", "password": user["password"]})
    assert status == 200 and headers["Cache-Control"] == "no-store"
    status, headers, _ = server.call("POST", "/v1/auth/refresh", body={
        "refresh_token": body["data"]["refresh_token"]})
    assert status == 200 and headers["Cache-Control"] == "no-store"
    # an error too: it may carry the caller's request details
    status, headers, _ = server.call("POST", "/v1/auth/login", raw=b"{")
    assert status == 400 and headers["Cache-Control"] == "no-store"


def test_gunicorns_own_error_page_is_nosniff(server: Gunicorn) -> None:
    status, headers, body = raw_request(server.port, b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n\r\n")
    assert body["meta"]["code"] == 88 and status == 400
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


def test_problem_type_ignores_the_host_header(server: Gunicorn) -> None:
    _, _, body = server.call("GET", "/nope", headers={
        "Host": "evil.example", "Accept": "application/problem+json"})
    assert body["type"] == "/v1/errors/10"


# --- logs ------------------------------------------------------------------------------

FORGED = b"/v1/x%0d%0a127.0.0.1%20GET%20/v1/admin%20200%20FORGED%1b[31mred%1b]0;title%07%c2%9b"


def test_log_lines_escape_control_characters(tmp_path: Path) -> None:
    """gunicorn's access log and the app's own access line (both on here),
    and gunicorn's error log quoting a refused request line: no raw CR, LF,
    ESC, BEL or C1 control from a client, no forged line."""
    access_file = tmp_path / "access.log"
    env = server_env(f"sqlite:///{tmp_path}/logs.db", LOG_LEVEL="INFO",
                     GUNICORN_ACCESS_LOG=str(access_file), LOG_ACCESS="true")
    migrate(env)
    server = Gunicorn(env, workers=1)
    try:
        server.wait_ready()
        for request in (
                b"GET " + FORGED + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                b"GET /health/live HTTP/1.1\r\nHost: x\r\nUser-Agent: a\x1b[2Jb\r\n"
                b"Connection: close\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(request)
                assert b"".join(iter(lambda: sock.recv(65536), b""))
        # a request line gunicorn refuses itself (ESC in the method): its error log quotes it
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(b"G\x1b[31mET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            assert b"".join(iter(lambda: sock.recv(65536), b""))
    finally:
        stop_process(server.proc)
        errors = server.proc.stderr.read()
        server.proc.stderr.close()
    access = access_file.read_bytes()
    for name, text in (("access log", access), ("error log", errors)):
        for raw in (b"\r", b"\x1b", b"\x07", "\u009b".encode()):
            assert raw not in text, (name, raw, text[-2000:])
        assert not any(line.startswith(b"127.0.0.1 GET /v1/admin")
                       for line in text.splitlines()), (name, text[-2000:])
    # both access lines (gunicorn's and the app's) show the path, escaped
    assert access.count(b"\\x0d\\x0a127.0.0.1 GET /v1/admin 200 FORGED\\x1b[31mred") == 1
    assert errors.count(b"\\x0d\\x0a127.0.0.1 GET /v1/admin 200 FORGED\\x1b[31mred") == 1
    assert b"G\\x1b[31mET" in errors  # gunicorn's "Invalid request from ..." line


def test_gunicorn_runs_the_escaping_logger() -> None:
    """The setting is public (logger_class); a typo would silently fall back."""
    out = subprocess.run(
        [str(BIN / "gunicorn"), "-c", "config/gunicorn.conf.py", "--print-config", "wsgi:app"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=server_env("sqlite://"))
    assert "config.gunicorn_logging.EscapingLogger" in out.stdout, out.stderr[-2000:]
