"""The retry policy against a deliberately failing server on loopback (http.server).

The server answers from a script (the last answer repeats) and records every
request, so each test asserts how many attempts were made and which waits
the client asked for (its `sleep` is a recorder: nothing waits).
"""
from __future__ import annotations

import json
import socket
import threading
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator, NamedTuple

import pytest

from gatehouse_client import (
    ERRORS, AuthRequired, DatabaseRollback, GatehouseClient, GatehouseError, NotSupported,
    TooManyRequests, TransportError, UnknownError)
from tests.client.live import Recorder

Answer = tuple[int, Any, dict[str, str]]  # HTTP status, JSON body (or bytes), headers


class Seen(NamedTuple):
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Script:
    def __init__(self) -> None:
        self.answers: list[Answer] = [(200, ok(), {})]
        self.seen: list[Seen] = []

    @property
    def methods(self) -> list[str]:
        return [s.method for s in self.seen]


def ok(data: Any = None) -> dict[str, Any]:
    return {"meta": {"code": 200, "message": "OK"}, "data": {"ok": True} if data is None else data}


def err(code: int, reason: str = "x.y.z") -> dict[str, Any]:
    return {"meta": {"code": code, "message": "Title", "description": "what happened",
                     "reason": reason, "request_id": "rid-1"}}


@pytest.fixture
def failing() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            script.seen.append(Seen(self.command, self.path, dict(self.headers), body))
            status, payload, headers = script.answers[min(len(script.seen),
                                                          len(script.answers)) - 1]
            raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer

        def log_message(self, *_: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def sleeps() -> Recorder:
    return Recorder()


@pytest.fixture
def make(failing: tuple[str, Script], sleeps: Recorder) -> Iterator[Any]:
    """make(**options) -> a client of the failing server (rng 1.0: no jitter), closed after."""
    made: list[GatehouseClient] = []

    def factory(**options: Any) -> GatehouseClient:
        options.setdefault("rng", lambda: 1.0)
        client = GatehouseClient(failing[0], sleep=sleeps, **options)
        made.append(client)
        return client

    yield factory
    for client in made:
        client.close()


# --- what is retried, and how long the client waits ----------------------------


def test_77_is_retried_with_growing_backoff_then_succeeds(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(500, err(77), {})] * 3 + [(200, ok(), {})]
    assert make(backoff=0.5).me() == {"ok": True}
    assert script.methods == ["GET"] * 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_77_gives_up_after_max_retries_with_backoff_capped(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(500, err(77, "database.connection.unavailable"), {})]
    with pytest.raises(DatabaseRollback) as info:
        make(max_retries=5, backoff=1.0, max_backoff=3.0).health()
    assert len(script.seen) == 6
    assert sleeps == [1.0, 2.0, 3.0, 3.0, 3.0]
    assert (info.value.status, info.value.reason, info.value.request_id) == (
        500, "database.connection.unavailable", "rid-1")


def test_backoff_has_jitter_in_the_upper_half_of_each_step(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(500, err(77), {})]
    draws = iter([0.0, 0.5, 0.99])
    with pytest.raises(DatabaseRollback):
        make(backoff=2.0, rng=lambda: next(draws)).me()
    assert sleeps == pytest.approx([1.0, 3.0, 7.96])  # steps 2, 4, 8: 2*(0.5+r/2), …


def test_500_is_retried_once_as_the_catalog_says(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(500, err(500), {}), (200, ok(), {})]
    assert make().me() == {"ok": True}
    assert len(script.seen) == 2 and sleeps == [0.5]

    script.seen.clear()
    sleeps.clear()
    script.answers = [(500, err(500, "server.internal.error"), {})]
    with pytest.raises(UnknownError) as info:
        make(max_retries=5).me()
    assert len(script.seen) == 2 and len(sleeps) == 1
    assert info.value.retry_policy == "once" and info.value.reason == "server.internal.error"


def test_429_waits_exactly_retry_after(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(429, err(429), {"Retry-After": "7"}),
                      (429, err(429), {"Retry-After": "3"}), (200, ok(), {})]
    assert make().health() == {"ok": True}
    assert sleeps == [7.0, 3.0]


def test_429_retry_after_as_an_http_date(failing, make, sleeps) -> None:
    import time

    _, script = failing
    script.answers = [(429, err(429), {"Retry-After": formatdate(time.time() + 20, usegmt=True)}),
                      (200, ok(), {})]
    make().me()
    assert len(sleeps) == 1 and 17 <= sleeps[0] <= 20


def test_429_further_away_than_max_retry_after_is_raised_at_once(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(429, err(429, "request.rate.limited"), {"Retry-After": "3600"})]
    with pytest.raises(TooManyRequests) as info:
        make(max_retry_after=60).me()
    assert (len(script.seen), sleeps) == (1, [])
    assert info.value.retry_after == 3600.0  # the caller can schedule it


def test_429_without_retry_after_backs_off(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(429, err(429), {}), (200, ok(), {})]
    make().me()
    assert sleeps == [0.5]


def test_max_retries_zero_never_retries(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(500, err(500), {})]
    with pytest.raises(UnknownError):
        make(max_retries=0).me()
    assert (len(script.seen), sleeps) == (1, [])


@pytest.mark.parametrize("status,code", [(400, 88), (400, 22), (404, 21), (404, 10), (401, 99)])
def test_client_errors_are_never_retried(failing, make, sleeps, status, code) -> None:
    _, script = failing
    script.answers = [(status, err(code), {}), (200, ok(), {})]
    with pytest.raises(ERRORS[code]) as info:
        make(retry_unsafe=True).me()
    assert (len(script.seen), sleeps) == (1, [])
    assert (info.value.code, info.value.status, info.value.message) == (code, status, "Title")


@pytest.mark.parametrize("call", [
    lambda c: c.update_me(display_name="x"),             # PATCH
    lambda c: c.register("ada", "ada@example.com", "pw"),  # POST
    lambda c: c.change_password("a", "b"),
])
def test_unsafe_methods_are_not_retried_by_default(failing, make, sleeps, call) -> None:
    _, script = failing
    script.answers = [(500, err(77), {}), (200, ok(), {})]
    with pytest.raises(DatabaseRollback):
        call(make())
    assert (len(script.seen), sleeps) == (1, [])


def test_unsafe_methods_are_retried_when_the_caller_opts_in(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(500, err(77), {}), (200, ok(), {})]
    assert make().request("POST", "/v1/auth/logout", retry_unsafe=True)["data"] == {"ok": True}
    assert script.methods == ["POST", "POST"]

    script.seen.clear()
    assert make(retry_unsafe=True).update_me(display_name="x") == {"ok": True}
    assert script.methods == ["PATCH", "PATCH"]
    assert script.seen[1].body == b'{"display_name": "x"}'  # the same body, resent


def test_idempotent_methods_are_retried(failing, make) -> None:
    _, script = failing
    for method in ("GET", "PUT", "DELETE"):
        script.seen.clear()
        script.answers = [(500, err(77), {}), (200, ok(), {})]
        make().request(method, "/v1/anything")
        assert script.methods == [method, method]


# --- answers that are not a known envelope -----------------------------------------


def test_unknown_code_is_the_base_class_and_retried_by_status(failing, make, sleeps) -> None:
    _, script = failing
    script.answers = [(400, err(123), {})]
    with pytest.raises(GatehouseError) as info:
        make().me()
    assert type(info.value) is GatehouseError
    assert (info.value.code, info.value.status, info.value.retryable) == (123, 400, False)
    assert len(script.seen) == 1

    script.seen.clear()
    script.answers = [(503, err(124), {}), (200, ok(), {})]
    assert make().me() == {"ok": True}
    assert len(script.seen) == 2


def test_a_proxy_page_is_a_transport_error_retried_for_gateway_statuses(failing, make) -> None:
    _, script = failing
    script.answers = [(502, b"<html>Bad Gateway</html>", {}), (200, ok(), {})]
    assert make().me() == {"ok": True}

    script.seen.clear()
    script.answers = [(404, b"<html>nope</html>", {"X-Request-ID": "abc"})]
    with pytest.raises(TransportError) as info:
        make().me()
    assert (info.value.status, info.value.code, info.value.request_id) == (404, None, "abc")
    assert len(script.seen) == 1


def test_request_id_comes_from_the_header_when_meta_lacks_it(failing, make) -> None:
    _, script = failing
    script.answers = [(404, {"meta": {"code": 10, "message": "Not Supported"}},
                       {"X-Request-ID": "from-header"})]
    with pytest.raises(NotSupported) as info:
        make().me()
    assert info.value.request_id == "from-header" and info.value.description == ""


def test_connection_refused_is_retried_for_get_only(make, sleeps) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    with GatehouseClient(f"http://127.0.0.1:{port}", sleep=sleeps, max_retries=2,
                         rng=lambda: 1.0) as client:
        with pytest.raises(TransportError) as info:
            client.me()
        assert sleeps == [0.5, 1.0] and info.value.status is None
        sleeps.clear()
        with pytest.raises(TransportError):
            client.login("ada", "pw")  # a POST
        assert sleeps == []


# --- tokens: refreshed once, cleared when dead ---------------------------------------

TOKENS = {"access_token": "new-access", "refresh_token": "new-refresh", "token_type": "Bearer",
          "expires_in": 900}


def test_expired_token_is_refreshed_once_and_the_call_resent(failing, make) -> None:
    _, script = failing
    script.answers = [(401, err(99, "auth.token.expired"), {}), (200, ok(TOKENS), {}),
                      (200, ok(), {})]
    seen_tokens: list[Any] = []
    client = make(access_token="old-access", refresh_token="old-refresh",
                  on_tokens=seen_tokens.append)
    assert client.update_me(display_name="x") == {"ok": True}  # even a PATCH: nothing was done
    assert [(s.method, s.path) for s in script.seen] == [
        ("PATCH", "/v1/users/me"), ("POST", "/v1/auth/refresh"), ("PATCH", "/v1/users/me")]
    assert script.seen[0].headers["Authorization"] == "Bearer old-access"
    assert "Authorization" not in script.seen[1].headers
    assert json.loads(script.seen[1].body) == {"refresh_token": "old-refresh"}
    assert script.seen[2].headers["Authorization"] == "Bearer new-access"
    assert seen_tokens == [TOKENS]


def test_a_token_still_expired_after_refresh_is_not_refreshed_again(failing, make) -> None:
    _, script = failing
    script.answers = [(401, err(99, "auth.token.expired"), {}), (200, ok(TOKENS), {}),
                      (401, err(99, "auth.token.expired"), {})]
    client = make(access_token="old-access", refresh_token="old-refresh")
    with pytest.raises(AuthRequired) as info:
        client.me()
    assert info.value.should_refresh and len(script.seen) == 3


def test_dead_tokens_are_cleared(failing, make) -> None:
    _, script = failing
    cleared: list[Any] = []
    script.answers = [(401, err(99, "auth.account.blocked"), {})]
    client = make(access_token="a", refresh_token="r", on_tokens=cleared.append)
    with pytest.raises(AuthRequired) as info:
        client.me()
    assert info.value.account_blocked and info.value.should_logout
    assert client.tokens is None and cleared == [None]


def test_admin_required_keeps_the_session(failing, make) -> None:
    _, script = failing
    script.answers = [(401, err(99, "auth.permission.admin_required"), {})]
    client = make(access_token="a", refresh_token="r")
    with pytest.raises(AuthRequired) as info:
        list(client.list_users())
    assert info.value.forbidden and not info.value.should_login
    assert client.tokens == {"access_token": "a", "refresh_token": "r"}


def test_unknown_99_reason_means_log_in_again(failing, make) -> None:
    _, script = failing
    script.answers = [(401, err(99, "auth.something.new"), {})]
    with pytest.raises(AuthRequired) as info:
        make(access_token="a").me()
    assert info.value.should_login and not info.value.should_logout
    assert not info.value.should_refresh


def test_reauth_required_keeps_the_session_and_asks_for_the_password(failing, make) -> None:
    _, script = failing
    script.answers = [(401, err(99, "auth.reauth.required"), {})]
    client = make(access_token="a", refresh_token="r")
    with pytest.raises(AuthRequired) as info:
        client.setup_2fa()
    assert info.value.needs_password and not info.value.should_login
    assert client.tokens == {"access_token": "a", "refresh_token": "r"}
    script.answers = [(200, ok({"secret": "S", "otpauth_uri": "otpauth://x"}), {})]
    assert client.setup_2fa(password="pw")["secret"] == "S"
    assert json.loads(script.seen[-1].body) == {"password": "pw"}


def test_superseded_refresh_keeps_the_pair_a_concurrent_refresh_received(
        failing, make) -> None:
    """Two threads of one client refresh at once: the server rotates for one,
    and tells the other its token was superseded; that one keeps the
    winner's pair instead of dropping the session."""
    _, script = failing
    script.answers = [(401, err(99, "auth.refresh.superseded"), {})]
    client = make(access_token="a0", refresh_token="r0")
    send = client._send

    def racing_send(*args: Any, **kwargs: Any) -> Any:
        answer = send(*args, **kwargs)
        client._keep({"access_token": "a1", "refresh_token": "r1"})  # the winner, meanwhile
        return answer

    client._send = racing_send  # type: ignore[method-assign]
    assert client.refresh()["refresh_token"] == "r1"
    assert client.tokens == {"access_token": "a1", "refresh_token": "r1"}
    # with no concurrent winner in this client, the pair is gone: log in again
    client._send = send  # type: ignore[method-assign]
    with pytest.raises(AuthRequired) as info:
        client.refresh()
    assert info.value.reason == "auth.refresh.superseded" and info.value.should_login
    assert client.tokens is None


def test_refresh_without_a_refresh_token_says_log_in(make) -> None:
    with pytest.raises(AuthRequired) as info:
        make().refresh()
    assert info.value.should_logout and info.value.status is None


def test_language_and_request_headers(failing, make) -> None:
    _, script = failing
    make(language="zh").request("GET", "/v1/errors", headers={"X-Request-ID": "mine"})
    sent = script.seen[0].headers
    assert sent["Accept-Language"] == "zh" and sent["X-Request-ID"] == "mine"
    assert sent["Accept"] == "application/json"
    assert sent["User-Agent"].startswith("gatehouse-client/")


def test_parse_retry_after() -> None:
    from gatehouse_client.errors import parse_retry_after

    now = 1_700_000_000.0
    assert parse_retry_after(" 12 ") == 12.0
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == 30.0
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0  # past: now
    for useless in (None, "", "soon", "-5", "1.5", "Wed, 21 Oct 2015 07:28:00 -0000"):
        assert parse_retry_after(useless) is None, useless
