"""Through gunicorn, as a client sees it: envelopes only, never HTML."""
from __future__ import annotations

import http.client
import json
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.server import Gunicorn, migrate, running, server_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    db = tmp_path_factory.mktemp("gunicorn") / "g.db"
    env = server_env(f"sqlite:///{db}")
    migrate(env)
    yield from running(env)


def test_unknown_path_and_method(server: Gunicorn) -> None:
    status, headers, body = server.call("GET", "/nope", headers={"X-Request-ID": "gw-1"})
    assert (status, body["meta"]["code"], body["meta"]["request_id"]) == (404, 10, "gw-1")
    assert headers["X-Request-ID"] == "gw-1"
    status, _, body = server.call("PUT", "/v1/users/me")
    assert (status, body["meta"]["reason"]) == (404, "request.method.not_allowed")


def test_ready(server: Gunicorn) -> None:
    status, _, body = server.call("GET", "/health/ready")
    assert status == 200 and body["data"]["database"] == "ok"


def test_bad_bodies(server: Gunicorn) -> None:
    status, _, body = server.call("POST", "/v1/auth/login", raw=b"{bad")
    assert (status, body["meta"]["reason"]) == (400, "request.body.invalid_json")
    status, _, body = server.call("POST", "/v1/auth/login", raw=b"x" * (70 * 1024))
    assert (status, body["meta"]["reason"]) == (400, "request.body.too_large")
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    status, _, body = server.call("POST", "/v1/auth/login", raw=b"a=b", headers=form)
    assert body["meta"]["reason"] == "request.body.unsupported_media_type"


def _raw(server: Gunicorn, request: bytes) -> tuple[str, dict[str, str], Any]:
    """Send bytes no HTTP library would send; the status line, headers, JSON body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request)
        raw = b"".join(iter(lambda: sock.recv(65536), b""))
    head, body = raw.split(b"\r\n\r\n", 1)
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, v in (line.split(": ", 1) for line in lines)}
    assert headers["content-type"] == "application/json", raw[:300]
    return status_line, headers, json.loads(body)


@pytest.mark.parametrize("request_bytes", [
    b"GET /" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",           # URI too long
    b"GET /nope HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",  # header
    b"GARBAGE\r\n\r\n",                                                   # request line
    b"POST /v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}",
], ids=["uri-too-long", "header-too-large", "garbage", "bad-content-length"])
def test_requests_gunicorn_rejects_get_the_envelope(server: Gunicorn,
                                                    request_bytes: bytes) -> None:
    status_line, headers, body = _raw(server, request_bytes)
    assert status_line.startswith("HTTP/1.1 400 ")
    assert body["meta"]["code"] == 88 and body["meta"]["reason"] == "request.body.bad_request"
    assert body["meta"]["request_id"] == headers["x-request-id"]


def test_chunked_body_over_64_kib(server: Gunicorn) -> None:
    payload = json.dumps({"login": "ada", "password": "password-123"}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("POST", "/v1/auth/login", body=iter([payload, b" " * (65 * 1024)]),
                     headers={"Content-Type": "application/json"}, encode_chunked=True)
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert (resp.status, body["meta"]["reason"]) == (400, "request.body.too_large")


def test_account_round_trip(server: Gunicorn) -> None:
    creds = {"username": "gateway", "email": "gw@example.com", "password": "password-123"}
    assert server.call("POST", "/v1/auth/register", creds)[0] == 200
    login = {"login": "GW@example.com", "password": "password-123"}
    status, _, body = server.call("POST", "/v1/auth/login", login)
    assert status == 200
    auth = {"Authorization": "Bearer " + body["data"]["access_token"]}
    status, _, me = server.call("GET", "/v1/users/me", headers=auth)
    assert (status, me["data"]["username"]) == (200, "gateway")
    assert server.call("POST", "/v1/auth/logout", headers=auth)[0] == 200
    status, headers, body = server.call("GET", "/v1/users/me", headers=auth)
    assert (status, body["meta"]["reason"]) == (401, "auth.token.revoked")
    assert headers["WWW-Authenticate"].startswith("Bearer")


def test_problem_json_through_gunicorn(server: Gunicorn) -> None:
    accept = {"Accept": "application/problem+json", "Accept-Language": "zh"}
    status, headers, body = server.call("GET", "/nope", headers=accept)
    assert headers["Content-Type"] == "application/problem+json"
    assert (status, body["code"], body["title"]) == (404, 10, "不支持")


def test_production_without_secret_refuses_to_start(tmp_path: Path) -> None:
    env = server_env(f"sqlite:///{tmp_path}/p.db", APP_ENV="production")
    env.pop("SECRET_KEY")
    server = Gunicorn(env, workers=1)
    try:
        assert server.proc.wait(timeout=30) != 0
        err = server.proc.stderr.read().decode()
        assert "SECRET_KEY" in err and "Traceback" not in err
    finally:
        server.stop()
