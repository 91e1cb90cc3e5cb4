"""Rate limits: 429 in the envelope with Retry-After, per address and per account."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest
from flask import Flask

from api.extensions import db
from tests.conftest import make_app
from tests.helpers import require_redis

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {
    "RATELIMIT_LOGIN": "3 per minute",
    "RATELIMIT_LOGIN_ACCOUNT": "2 per minute",
    "RATELIMIT_REGISTER": "2 per minute",
    "RATELIMIT_REGISTER_ACCOUNT": "100 per minute",
    "RATELIMIT_REFRESH": "2 per minute",
    "RATELIMIT_REFRESH_ACCOUNT": "100 per minute",
    "RATELIMIT_2FA": "2 per minute",
    "RATELIMIT_2FA_ACCOUNT": "100 per minute",
}


def limited_app(**overrides: Any) -> Flask:
    app = make_app(RATELIMIT_ENABLED=True, **{**LIMITS, **overrides})
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def limited() -> Iterator[Flask]:
    app = limited_app()
    yield app
    with app.app_context():
        db.drop_all()


def assert_429(resp: Any) -> None:
    m = resp.get_json()["meta"]
    assert resp.status_code == 429
    assert (m["code"], m["message"]) == (429, "Too Many Requests")
    assert m["reason"] == "request.rate.limited"
    assert resp.content_type == "application/json"
    assert 1 <= int(resp.headers["Retry-After"]) <= 61
    assert m["request_id"] == resp.headers["X-Request-ID"]


def login(client: Any, name: str, addr: str = "10.0.0.1") -> Any:
    return client.post("/v1/auth/login", json={"login": name, "password": "whatever-pass"},
                       environ_base={"REMOTE_ADDR": addr})


def test_login_limited_per_address(limited: Flask) -> None:
    client = limited.test_client()
    for i in range(3):
        assert login(client, f"user{i}").status_code == 404  # counted, answered normally
    assert_429(login(client, "user9"))
    # another address is not affected
    assert login(client, "user10", addr="10.0.0.2").status_code == 404


def test_login_limited_per_account_across_addresses(limited: Flask) -> None:
    client = limited.test_client()
    assert login(client, "Target", addr="10.0.0.1").status_code == 404
    assert login(client, "target", addr="10.0.0.2").status_code == 404
    assert_429(login(client, "TARGET", addr="10.0.0.3"))


def test_register_refresh_and_verify_are_limited(limited: Flask) -> None:
    client = limited.test_client()
    for path, body in (("/v1/auth/register", {}), ("/v1/auth/refresh", {}),
                       ("/v1/auth/2fa/verify", {})):
        for _ in range(2):
            assert client.post(path, json=body).status_code == 400
        assert_429(client.post(path, json=body))


def test_429_as_problem_json_and_chinese(limited: Flask) -> None:
    client = limited.test_client()
    for _ in range(2):
        client.post("/v1/auth/register", json={})
    r = client.post("/v1/auth/register", json={},
                    headers={"Accept": "application/problem+json", "Accept-Language": "zh-CN"})
    assert r.status_code == 429 and r.content_type == "application/problem+json"
    body = r.get_json()
    assert (body["status"], body["code"], body["title"]) == (429, 429, "请求过多")
    assert "Retry-After" in r.headers


def test_rate_limit_can_be_turned_off() -> None:
    app = make_app(RATELIMIT_ENABLED=False, **LIMITS)
    with app.app_context():
        db.create_all()
    client = app.test_client()
    assert all(login(client, "x").status_code == 404 for _ in range(6))


@pytest.mark.redis
def test_limits_are_shared_through_redis(tmp_path: Any) -> None:
    """A count made in this process is seen by another process using the same Redis."""
    url = require_redis()
    account = f"acct-{uuid.uuid4().hex[:12]}"  # a fresh bucket per run
    app = limited_app(REDIS_URL=url, RATELIMIT_STORAGE_URI=url)
    client = app.test_client()
    assert login(client, account, addr="10.1.0.1").status_code == 404
    assert login(client, account, addr="10.1.0.2").status_code == 404
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.auth.test_rate_limits import limited_app, login
app = limited_app(REDIS_URL={url!r}, RATELIMIT_STORAGE_URI={url!r})
resp = login(app.test_client(), {account!r}, addr="10.1.0.3")
print(resp.status_code, resp.headers.get("Retry-After"))
"""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    env.pop("TEST_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    status, retry_after = out.stdout.split()[-2:]
    assert status == "429" and int(retry_after) >= 1


def _limiter_hooks(app: Flask) -> int:
    from api.auth.limits import _is_limiter_hook

    return sum(_is_limiter_hook(f) for hooks in (app.before_request_funcs,
                                                 app.after_request_funcs,
                                                 app.teardown_request_funcs)
               for f in hooks.get(None, []))


def test_limits_off_leaves_no_limiter_hooks(limited: Flask) -> None:
    # Flask-Limiter's three hooks run when limits are on, and only then
    assert _limiter_hooks(limited) == 3
    off = make_app()
    assert _limiter_hooks(off) == 0
    # the app's own hooks (its access line) stay
    assert len(off.before_request_funcs[None]) == len(off.after_request_funcs[None]) == 1
    with off.app_context():
        db.create_all()
        resp = off.test_client().get("/v1/nope")
    assert resp.status_code == 404 and resp.headers["X-Request-ID"]
    with off.app_context():
        db.drop_all()
