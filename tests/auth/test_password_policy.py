"""New passwords: never a common one; optionally never a breached one.

The breach check runs against a fake range server on loopback (never the
real service): it answers what a Pwned Passwords range query answers.
"""
from __future__ import annotations

import hashlib
import http.server
import logging
import threading
import time
from typing import Any, Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.auth.password_policy import common_passwords
from api.extensions import db
from tests.conftest import make_app
from tests.helpers import (
    PASSWORD, assert_error, assert_ok, change_password, login, make_account)

COMMON = ["password123", "PASSWORD123", "Iloveyou1", "qwertyuiop", "1q2w3e4r5t"]


def post_register(client: FlaskClient, password: str, name: str = "ada") -> Any:
    return client.post("/v1/auth/register", json={
        "username": name, "email": f"{name}@example.com", "password": password})


def test_the_list_has_100000_entries() -> None:
    common = common_passwords()
    assert len(common) == 100_000
    assert all(entry == entry.lower() for entry in common)


@pytest.mark.parametrize("password", COMMON)
def test_register_refuses_common_passwords(client: FlaskClient, password: str) -> None:
    meta = assert_error(post_register(client, password), 88, "user.password.common")
    assert list(meta["fields"]) == ["password"]
    assert password not in str(meta)


def test_the_refusal_is_localized(client: FlaskClient) -> None:
    resp = client.post("/v1/auth/register", headers={"Accept-Language": "zh"}, json={
        "username": "ada", "email": "ada@example.com", "password": "password123"})
    meta = resp.get_json()["meta"]
    assert (resp.status_code, meta["code"], meta["reason"]) == (400, 88, "user.password.common")
    assert meta["description"] == "该密码属于最常见的密码之一,请换一个。"


def test_other_failures_keep_the_generic_reason(client: FlaskClient) -> None:
    # a bad username beside the common password: both named, the usual reason
    resp = client.post("/v1/auth/register", json={
        "username": "a", "email": "a@example.com", "password": "password123"})
    meta = assert_error(resp, 88, "request.param.invalid")
    assert set(meta["fields"]) == {"username", "password"}
    # too short (and common): the length is what to fix
    meta = assert_error(post_register(client, "123456"), 88, "request.param.invalid")
    assert meta["fields"]["password"] == ["Length must be between 8 and 128."]


def test_password_change_refuses_common_passwords(client: FlaskClient, ada: Any) -> None:
    meta = assert_error(change_password(client, ada, new="Password123"), 88,
                        "user.password.common")
    assert list(meta["fields"]) == ["new_password"]
    login(client, "ada", PASSWORD)  # unchanged


def test_cli_refuses_common_passwords(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "ada", "ada@example.com",
                                 "--password", "password123"])
    assert result.exit_code != 0
    assert "password" in result.stderr and "common" in result.stderr
    assert "password123" not in result.output + result.stderr
    make_account(app.test_client())
    result = runner.invoke(args=["users", "reset-password", "ada", "--password", "iloveyou1"])
    assert result.exit_code != 0 and "common" in result.stderr


# --- the breach check, against a fake range server ----------------------------------

BREACHED = "a rather unusual phrase 17"
PADDED = "another unusual phrase 42"  # listed with count 0: padding, not breached


def _suffix(password: str) -> tuple[str, str]:
    digest = hashlib.sha1(password.encode()).hexdigest().upper()
    return digest[:5], digest[5:]


class RangeServer:
    """Answers GET /range/<prefix> as the Pwned Passwords API does."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        self.status = 200
        self.delay = 0.0
        counts = {BREACHED: 3861, PADDED: 0}
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                owner.requests.append((self.path, self.headers.get("Add-Padding")))
                time.sleep(owner.delay)
                prefix = self.path.rsplit("/", 1)[-1]
                lines = ["0018A45C4D1DEF81644B54AB7F969B88D65:1"]
                for password, count in counts.items():
                    p, s = _suffix(password)
                    if p == prefix:
                        lines.append(f"{s}:{count}")
                body = "\r\n".join(lines).encode()
                self.send_response(owner.status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/range/"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def ranges() -> Iterator[RangeServer]:
    server = RangeServer()
    yield server
    server.close()


_breach_apps: list[Flask] = []


def breach_app(mode: str, url: str, timeout: float = 1.0) -> Flask:
    """An app with the breach check set; its tables go at the test's end."""
    app = make_app(PASSWORD_BREACH_CHECK=mode, PASSWORD_BREACH_URL=url,
                   PASSWORD_BREACH_TIMEOUT=timeout)
    with app.app_context():
        db.drop_all()
        db.create_all()
    _breach_apps.append(app)
    return app


@pytest.fixture(autouse=True)
def _drop_breach_tables() -> Iterator[None]:
    yield
    while _breach_apps:
        with _breach_apps.pop().app_context():
            db.session.remove()
            db.drop_all()


@pytest.mark.parametrize("mode", ["best-effort", "strict"])
def test_breached_passwords_are_refused(ranges: RangeServer, mode: str) -> None:
    client = breach_app(mode, ranges.url).test_client()
    meta = assert_error(post_register(client, BREACHED), 88, "user.password.breached")
    assert list(meta["fields"]) == ["password"]
    # only the 5-character prefix left the process, with padding asked for
    prefix, suffix = _suffix(BREACHED)
    assert ranges.requests == [(f"/range/{prefix}", "true")]
    assert_ok(post_register(client, PADDED))  # a padding entry is not a breach
    assert_ok(post_register(client, PASSWORD, name="bob"))


def test_off_sends_nothing(ranges: RangeServer) -> None:
    client = breach_app("off", ranges.url).test_client()
    assert_ok(post_register(client, BREACHED))
    assert ranges.requests == []


def test_common_and_short_passwords_are_not_sent(ranges: RangeServer) -> None:
    client = breach_app("strict", ranges.url).test_client()
    assert_error(post_register(client, "password123"), 88, "user.password.common")
    assert_error(post_register(client, "short"), 88, "request.param.invalid")
    assert ranges.requests == []


@pytest.mark.parametrize("failure", ["status", "timeout", "refused"])
def test_best_effort_lets_passwords_through_when_the_service_fails(
        ranges: RangeServer, failure: str, caplog: pytest.LogCaptureFixture) -> None:
    url = ranges.url
    if failure == "status":
        ranges.status = 503
    elif failure == "timeout":
        ranges.delay = 1.0
    else:
        url = "http://127.0.0.1:9/range/"  # discard port: nothing listens
    client = breach_app("best-effort", url, timeout=0.3).test_client()
    with caplog.at_level(logging.WARNING):
        assert_ok(post_register(client, BREACHED))
    warnings = [r.getMessage() for r in caplog.records if "breached-password" in r.message]
    assert warnings and "accepted (best-effort)" in warnings[0]
    prefix, suffix = _suffix(BREACHED)
    assert not any(BREACHED in text or suffix in text or prefix in text
                   for text in caplog.messages)


def test_strict_answers_77_when_the_service_fails(ranges: RangeServer) -> None:
    ranges.status = 500
    client = breach_app("strict", ranges.url, timeout=0.5).test_client()
    meta = assert_error(post_register(client, PASSWORD), 77, "user.password.check_unavailable")
    assert "fields" not in meta
    # nothing was written: the same registration succeeds once the service is back
    ranges.status = 200
    assert_ok(post_register(client, PASSWORD))


def test_password_change_is_checked_too(ranges: RangeServer) -> None:
    client = breach_app("strict", ranges.url).test_client()
    account = make_account(client)
    assert_error(change_password(client, account, new=BREACHED), 88, "user.password.breached")


def test_no_transaction_is_open_during_the_query(ranges: RangeServer,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The request's session was read (the token's session) before the body
    is checked: that transaction (SQLite's write lock for a writing request)
    must not stay open across the network call."""
    from api.auth import password_policy

    app = breach_app("strict", ranges.url)
    client = app.test_client()
    account = make_account(client)
    seen: list[bool] = []
    real = password_policy.breach_count

    def recording(*args: Any) -> int:
        seen.append(db.session().in_transaction())
        return real(*args)

    monkeypatch.setattr(password_policy, "breach_count", recording)
    assert_ok(change_password(client, account))
    assert seen == [False]
    login(client, "ada", "a brand new passphrase")


@pytest.mark.parametrize("name, value", [
    ("PASSWORD_BREACH_CHECK", "sometimes"),
    ("PASSWORD_BREACH_URL", "ftp://example.com/range/"),
    ("PASSWORD_BREACH_TIMEOUT", "0"),
    ("PASSWORD_BREACH_TIMEOUT", "soon"),
])
def test_bad_breach_settings_stop_start_up(name: str, value: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from config import ConfigError, get_config

    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        get_config("testing")


def test_breach_settings_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import get_config

    config = get_config("testing")
    assert (config["PASSWORD_BREACH_CHECK"], config["PASSWORD_BREACH_URL"],
            config["PASSWORD_BREACH_TIMEOUT"]) == (
        "off", "https://api.pwnedpasswords.com/range/", 2.0)
    monkeypatch.setenv("PASSWORD_BREACH_CHECK", "Best-Effort")
    assert get_config("testing")["PASSWORD_BREACH_CHECK"] == "best-effort"


def test_gunicorn_reads_the_list_before_forking(monkeypatch: pytest.MonkeyPatch) -> None:
    """config/gunicorn.conf.py's when_ready (the master, app preloaded) reads
    the list, so the forked workers share its pages."""
    import gc
    import sys
    import types

    from api.auth import password_policy
    from tests.test_gunicorn_conf import load

    conf = load(monkeypatch)
    monkeypatch.setattr(password_policy, "_common", None)
    monkeypatch.setitem(sys.modules, "wsgi", types.ModuleType("wsgi"))
    monkeypatch.setattr(gc, "freeze", lambda: None)
    conf["when_ready"](None)
    assert password_policy._common is not None and len(password_policy._common) == 100_000
