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
from tests.helpers import PASSWORD, require_redis

ROOT = Path(__file__).resolve().parents[2]
LIMITS = {
    "RATELIMIT_LOGIN": "3 per minute",
    "RATELIMIT_REGISTER": "2 per minute",
    "RATELIMIT_REFRESH": "2 per minute",
    "RATELIMIT_REFRESH_ACCOUNT": "100 per minute",
    "RATELIMIT_2FA": "2 per minute",
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


def test_correct_logins_are_not_counted_per_account(limited: Flask) -> None:
    """Only failures count against an account: its owner logging in from
    many places is never limited for it (the old per-account limit counted
    every attempt, keyed on the name as typed)."""
    client = limited.test_client()
    assert client.post("/v1/auth/register", json={
        "username": "target", "email": "target@example.com", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "10.0.9.9"}).status_code == 200
    for i in range(25):
        name = ("target", "TARGET", "target@example.com")[i % 3]
        resp = client.post("/v1/auth/login", json={"login": name, "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": f"10.0.1.{i}"})
        assert resp.status_code == 200, resp.get_json()


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
    # a fresh address and names keep this run's buckets apart from earlier
    # runs' (a key prefix would not: Flask-Limiter keeps the first app's)
    addr = ".".join(str(b) for b in uuid.uuid4().bytes[:4])
    run = uuid.uuid4().hex[:12]
    app = limited_app(REDIS_URL=url, RATELIMIT_STORAGE_URI=url)
    client = app.test_client()
    for i in range(3):
        assert login(client, f"a{i}-{run}", addr=addr).status_code == 404
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.auth.test_rate_limits import limited_app, login
app = limited_app(REDIS_URL={url!r}, RATELIMIT_STORAGE_URI={url!r})
resp = login(app.test_client(), "a4-{run}", addr={addr!r})
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
    from api.auth.limits import _is_limiter_hook

    # the app's own hooks (its access line, the automatic prune) stay
    for hooks in ("before_request_funcs", "after_request_funcs"):
        own = [f for f in getattr(limited, hooks)[None] if not _is_limiter_hook(f)]
        assert [f.__qualname__ for f in getattr(off, hooks)[None]] == \
            [f.__qualname__ for f in own] != []
    with off.app_context():
        db.create_all()
        resp = off.test_client().get("/v1/nope")
    assert resp.status_code == 404 and resp.headers["X-Request-ID"]
    with off.app_context():
        db.drop_all()
