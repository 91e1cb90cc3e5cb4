"""The limiter's storage: no client input changes it or stops it counting,
and a real fault is logged with the request id (SPEC §10)."""
from __future__ import annotations

import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from limits.storage import MemoryStorage

from api.extensions import db, limiter
from tests.conftest import make_app
from tests.helpers import require_redis

ROOT = Path(__file__).resolve().parents[2]

# bodies whose text no storage key may carry: a lone surrogate (not UTF-8
# encodable), control characters, a very long name
HOSTILE = [
    b'{"login": "\\ud800x", "password": "whatever-pass"}',
    b'{"login": "a\\u0000\\r\\n b", "password": "whatever-pass"}',
    b'{"login": "' + b"x" * 4000 + b'", "password": "whatever-pass"}',
    b'{"challenge_token": "\\udfff.\\ud800.x", "code": "123456"}',
    b'{"refresh_token": "\\ud800.1.x.y", "code": "123456"}',
]


def redis_app(url: str, **overrides: Any) -> Any:
    app = make_app(RATELIMIT_ENABLED=True, REDIS_URL=url, RATELIMIT_STORAGE_URI=url,
                   RATELIMIT_LOGIN="4 per minute",
                   RATELIMIT_2FA="100 per minute", RATELIMIT_REFRESH="100 per minute",
                   **overrides)
    with app.app_context():
        db.drop_all()  # a fresh schema: PostgreSQL keeps earlier tests' rows
        db.create_all()
    return app


def login(client: Any, addr: str, raw: bytes | None = None) -> Any:
    """A login for a name no account has (fresh per call: name buckets in
    Redis outlive a test run)."""
    raw = raw or ('{"login": "nobody-%s", "password": "whatever-pass"}'
                  % uuid.uuid4().hex[:12]).encode()
    return client.post("/v1/auth/login", data=raw, content_type="application/json",
                       environ_base={"REMOTE_ADDR": addr})


@pytest.mark.redis
def test_hostile_bodies_leave_the_counters_in_redis(tmp_path: Path,
                                                    api_log: pytest.LogCaptureFixture) -> None:
    """Bodies no key could hold are answered (never 500) and counted in
    Redis: another process sharing the Redis sees their count."""
    import redis

    url = require_redis()
    # fresh addresses keep this run's buckets apart from earlier runs' (a
    # key prefix would not: Flask-Limiter keeps the first app's for the process)
    addr = ".".join(str(b) for b in uuid.uuid4().bytes[:3])
    app = redis_app(url)
    client = app.test_client()
    for path in ("/v1/auth/login", "/v1/auth/2fa/verify", "/v1/auth/refresh"):
        for raw in HOSTILE:
            resp = client.post(path, data=raw, content_type="application/json",
                               environ_base={"REMOTE_ADDR": f"{addr}.1"})
            assert resp.status_code < 500, (path, raw[:40], resp.get_json())
    # an address no key could hold as it is (as a misconfigured proxy might pass on)
    for hostile_addr in ("10.0.0.1/auth.login\u00ff", "x" * 300, "\udcff"):
        resp = login(client, hostile_addr)
        assert resp.status_code in (404, 429), resp.get_json()
    assert not any("storage" in r.getMessage() for r in api_log.records)
    for raw in HOSTILE[:3]:
        assert login(client, f"{addr}.2", raw).status_code == 400
    assert login(client, f"{addr}.2").status_code == 404  # the 4th of 4 per minute
    keys = redis.Redis.from_url(url).keys(f"*/{addr}.2/*login-addr*")
    assert len(keys) == 1 and redis.Redis.from_url(url).get(keys[0]) == b"4"
    # a second process, sharing only Redis, finds the address's budget spent
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from tests.auth.test_limiter_storage import redis_app, login
resp = login(redis_app({url!r}).test_client(), "{addr}.2")
print(resp.status_code, resp.get_json()["meta"]["reason"])
"""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}"}
    env.pop("TEST_DATABASE_URL", None)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         env=env, timeout=60, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split()[-2:] == ["429", "request.rate.limited"]


def test_a_storage_fault_is_logged_with_the_request_id(
        monkeypatch: pytest.MonkeyPatch, api_log: pytest.LogCaptureFixture) -> None:
    """Redis unreachable: the request is still answered, counting goes on in
    process memory, and every log line about it names the request."""
    from api.auth import attempts

    monkeypatch.setattr(attempts, "_memory", MemoryStorage())
    monkeypatch.setattr(attempts, "_storage_down_until", 0.0)
    dead = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    app = make_app(RATELIMIT_ENABLED=True, REDIS_URL=dead, RATELIMIT_STORAGE_URI=dead,
                   RATELIMIT_LOGIN="100 per minute", AUTH_FAILURES_FREE=2)
    with app.app_context():
        db.drop_all()  # a fresh schema: PostgreSQL keeps earlier tests' rows
        db.create_all()
    client = app.test_client()
    nobody = b'{"login": "nobody", "password": "whatever-pass"}'
    resp = login(client, "10.3.0.1", nobody)
    assert resp.status_code == 404
    rid = resp.headers["X-Request-ID"]
    faults = [r for r in api_log.records
              if r.levelno >= logging.WARNING and "storage" in r.getMessage()]
    assert faults, [r.getMessage() for r in api_log.records]
    assert all(getattr(r, "request_id", None) == rid for r in faults)
    assert {r.name for r in faults} >= {"flask-limiter", "api.limits"}
    # still counting (in this process): the third failure for the name waits
    assert login(client, "10.3.0.2", nobody).status_code == 404
    assert login(client, "10.3.0.3", nobody).status_code == 404
    resp = login(client, "10.3.0.4", nobody)
    assert (resp.status_code, resp.get_json()["meta"]["reason"]) == (
        429, "auth.attempts.too_many")
    limiter._storage_dead = False  # the next app gets a working storage
