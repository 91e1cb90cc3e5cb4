"""deploy/nginx.conf in front of gunicorn: real client addresses, JSON errors.

Clients connect from 127.0.0.2 and 127.0.0.3 (loopback aliases on Linux)
through nginx on 127.0.0.1, which gunicorn trusts (FORWARDED_ALLOW_IPS's
default). Each must get its own login rate-limit bucket; no X-Forwarded-For a
client writes, through nginx or straight to gunicorn, may change its address.
"""
from __future__ import annotations

import http.client
import json
import os
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from api.errors.catalog import CATALOG, reason_of
from tests.nginx import NGINX, Nginx
from tests.server import fresh_database, migrate, running, server_env

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(NGINX is None and not os.environ.get("CI"),
                                 reason="nginx is not installed (apt-get install nginx; "
                                 ".ci/run installs it, and there a missing nginx fails)")]


class Stack:
    def __init__(self, gunicorn: Any, nginx: Nginx, access_log: Path) -> None:
        self.gunicorn = gunicorn
        self.nginx = nginx
        self.access_log = access_log


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("nginx")
    access_log = tmp / "gunicorn-access.log"
    with fresh_database(tmp, "nginx") as url:
        # one worker: the limiter's memory storage is per process
        env = server_env(url, RATELIMIT_ENABLED="true", RATELIMIT_LOGIN="3 per minute",
                         RATELIMIT_LOGIN_ACCOUNT="1000 per minute",
                         GUNICORN_ACCESS_LOG=str(access_log), LOG_LEVEL="INFO")
        env.pop("FORWARDED_ALLOW_IPS", None)  # the default: nginx on this host
        migrate(env)
        for gunicorn in running(env, workers=1):
            nginx = Nginx(tmp / "nginx", f"127.0.0.1:{gunicorn.port}")
            try:
                nginx.wait_ready()
                yield Stack(gunicorn, nginx, access_log)
            finally:
                nginx.stop()


def call(port: int, source: str, method: str, path: str, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, Any, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=20,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=body,
                     headers={"Content-Type": "application/json", **(headers or {})})
        resp = conn.getresponse()
        data = resp.read()
        assert resp.getheader("Content-Type", "").startswith("application/json"), data
        return resp.status, resp.headers, json.loads(data)
    finally:
        conn.close()


def login(port: int, source: str, forwarded: str | None = None) -> int:
    """A failed login (unknown account: 21) as one client, or 429. Each names
    another account: only the per-address limit can answer 429."""
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    body = json.dumps({"login": f"nobody-{uuid.uuid4().hex[:12]}",
                       "password": "whatever-pass"}).encode()
    status, _, body = call(port, source, "POST", "/v1/auth/login", body, headers)
    return body["meta"]["code"]


def test_each_client_behind_nginx_has_its_own_address(stack: Stack) -> None:
    port = stack.nginx.port
    assert [login(port, "127.0.0.2") for _ in range(3)] == [21, 21, 21]
    assert login(port, "127.0.0.2") == 429
    # a second client through the same nginx is not held by the first
    assert login(port, "127.0.0.3") == 21
    # the limited client's own X-Forwarded-For goes to the left of the address
    # nginx appends, and is ignored
    assert login(port, "127.0.0.2", forwarded="198.51.100.7") == 429
    # nor can the other client borrow the limited one's address
    assert login(port, "127.0.0.3", forwarded="127.0.0.2") == 21
    # gunicorn's access log names the clients, not nginx
    lines = stack.access_log.read_text().splitlines()
    sources = {line.split()[0] for line in lines if "/v1/auth/login" in line}
    assert sources == {"127.0.0.2", "127.0.0.3"}


def test_a_forged_header_sent_straight_to_gunicorn_is_ignored(stack: Stack) -> None:
    port = stack.gunicorn.port
    assert [login(port, "127.0.0.4", forwarded=f"198.51.100.{i}") for i in range(3)] == [
        21, 21, 21]
    assert login(port, "127.0.0.4", forwarded="198.51.100.99") == 429
    assert login(port, "127.0.0.5", forwarded="127.0.0.4") == 21


def assert_envelope(status: int, headers: Any, body: dict, code: int, reason: str) -> None:
    meta = body["meta"]
    entry = CATALOG[code]
    assert status == entry.status
    assert (meta["code"], meta["message"], meta["reason"]) == (code, entry.title, reason)
    assert meta["description"] == reason_of(reason).description
    assert meta["request_id"] == headers["X-Request-ID"]


def test_nginx_own_errors_are_envelopes(stack: Stack) -> None:
    port = stack.nginx.port
    status, headers, body = call(port, "127.0.0.6", "POST", "/v1/auth/register",
                                 b"{" + b" " * 70_000 + b"}")
    assert_envelope(status, headers, body, 88, "request.body.too_large")


def test_gunicorn_down_is_an_envelope(tmp_path: Path) -> None:
    from tests.server import free_port

    nginx = Nginx(tmp_path / "nginx", f"127.0.0.1:{free_port()}")  # nothing listens
    try:
        nginx.wait_ready()
        status, headers, body = call(nginx.port, "127.0.0.1", "GET", "/health/live")
        assert_envelope(status, headers, body, 500, "server.internal.error")
    finally:
        nginx.stop()


def test_request_ids_pass_through(stack: Stack) -> None:
    port = stack.nginx.port
    _, headers, body = call(port, "127.0.0.6", "GET", "/health/live",
                            headers={"X-Request-ID": "trace-123.abc"})
    assert headers["X-Request-ID"] == "trace-123.abc"
    # a malformed one is replaced by nginx's own, which gunicorn keeps
    _, headers, body = call(port, "127.0.0.6", "GET", "/nope",
                            headers={"X-Request-ID": "bad id\"}"})
    rid = headers["X-Request-ID"]
    assert rid == body["meta"]["request_id"] and len(rid) == 32
    log = (stack.nginx.prefix / "gatehouse.access.log").read_text()
    assert f"request_id={rid}" in log


def test_common_passwords_are_refused_under_gunicorn(stack: Stack) -> None:
    body = json.dumps({"username": "ada", "email": "ada@example.com",
                       "password": "Password123"}).encode()
    status, headers, answer = call(stack.nginx.port, "127.0.0.7", "POST", "/v1/auth/register",
                                   body)
    assert_envelope(status, headers, answer, 88, "user.password.common")
    assert list(answer["meta"]["fields"]) == ["password"]
