"""Helpers for the account and session tests: accounts, tokens, envelopes.

Everything here talks to the API through the test client, as a REST
client would; the token forgers sign with the app's own key only where a
test needs a token the server would otherwise never issue.
"""
from __future__ import annotations

import base64
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

PASSWORD = "correct horse battery staple"
T = TypeVar("T")

# Legacy titles are frozen (SPEC §3); written out here, not read from the catalog.
TITLES = {10: "Not Supported", 21: "User Not Exists", 22: "Password Not Match",
          77: "Database Rollback", 88: "Invalid Parameter", 99: "Auth Required",
          500: "Unknown Error"}
STATUSES = {10: 404, 21: 404, 22: 400, 77: 500, 88: 400, 99: 401, 500: 500}


@dataclass
class Account:
    id: int
    username: str
    email: str
    password: str
    access_token: str
    refresh_token: str

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.access_token)


def at_once(n: int, call: Callable[[int], T]) -> list[T]:
    """`call(i)` for i in range(n) on n threads, released together by a
    barrier (races: the calls meet in the server at the same moment)."""
    barrier = threading.Barrier(n)

    def run(i: int) -> T:
        barrier.wait(timeout=20)
        return call(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(run, range(n)))


def write_key_pair(key: Any, directory: Path, name: str) -> tuple[str, str]:
    """A private key and its public key as PEM files (NAME.pem, NAME.pub.pem)
    in `directory`, for the JWT_*_KEY_FILE settings; their paths."""
    private, public = directory / f"{name}.pem", directory / f"{name}.pub.pem"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    public.write_bytes(key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return str(private), str(public)


REDIS_SKIP = "TEST_REDIS_URL is not set (CI sets it)"


def require_redis() -> str:
    """The Redis the tests may use: required in CI, a clear skip without it."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("TEST_REDIS_URL must be set in CI")
        pytest.skip(REDIS_SKIP)
    return url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_error(resp: TestResponse, code: int, reason: str) -> dict[str, Any]:
    """The response is the legacy error envelope for ``code``/``reason``; its meta."""
    assert resp.status_code == STATUSES[code], resp.get_data(as_text=True)
    assert resp.mimetype == "application/json"
    body = resp.get_json()
    assert set(body) == {"meta"}
    meta = body["meta"]
    assert meta["code"] == code
    assert meta["message"] == TITLES[code]
    assert meta["reason"] == reason
    assert isinstance(meta["description"], str) and meta["description"]
    assert meta["request_id"] == resp.headers["X-Request-ID"]
    return meta


def assert_ok(resp: TestResponse) -> Any:
    """The success envelope; its ``data``."""
    assert resp.status_code == 200, resp.get_data(as_text=True)
    body = resp.get_json()
    assert body["meta"] == {"code": 200, "message": "OK"}
    return body["data"]


def register(client: FlaskClient, username: str = "ada", email: str | None = None,
             password: str = PASSWORD) -> dict[str, Any]:
    email = email or f"{username}@example.com"
    return assert_ok(client.post("/v1/auth/register", json={
        "username": username, "email": email, "password": password}))


def login(client: FlaskClient, login_name: str = "ada",
          password: str = PASSWORD) -> dict[str, Any]:
    return assert_ok(client.post("/v1/auth/login",
                                 json={"login": login_name, "password": password}))


def make_account(client: FlaskClient, username: str = "ada",
                 password: str = PASSWORD) -> Account:
    user = register(client, username, password=password)
    tokens = login(client, username, password)
    return Account(user["id"], user["username"], user["email"], password,
                   tokens["access_token"], tokens["refresh_token"])


NEW_PASSWORD = "a brand new passphrase"


def change_password(client: FlaskClient, account: Account, current: str = PASSWORD,
                    new: str = NEW_PASSWORD) -> TestResponse:
    return client.post("/v1/auth/password", headers=account.headers,
                       json={"current_password": current, "new_password": new})


def me(client: FlaskClient, token: str) -> TestResponse:
    return client.get("/v1/users/me", headers=bearer(token))


def refresh(client: FlaskClient, refresh_token: str) -> TestResponse:
    return client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


# --- tokens ---------------------------------------------------------------------

def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(token: str) -> dict[str, Any]:
    """A token's claims, unverified (for building forgeries from real ones)."""
    if token.startswith("2f."):
        token = token[3:]
    return jwt.decode(token, options={"verify_signature": False})


def sign(app: Flask, claims: dict[str, Any], key: str | None = None,
         algorithm: str = "HS256", kid: str | bool = True) -> str:
    """A JWT signed with the app's key (or ``key``), naming the app's key id
    in its header (``kid``: another id, or False for none)."""
    from api.auth.tokens import key_ring

    if kid is True:
        kid = key_ring(app).kid
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, key or app.config["JWT_SECRET_KEY"], algorithm=algorithm,
                      headers=headers)


def forge(app: Flask, token: str, drop: Iterable[str] = (), **changes: Any) -> str:
    """Re-sign a real token's claims with the app's key, changed as asked."""
    claims = claims_of(token)
    claims.update(changes)
    for name in drop:
        del claims[name]
    return sign(app, claims)


def unsigned(claims: dict[str, Any]) -> str:
    """An ``alg: none`` token: header and payload, empty signature."""
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(claims).encode())}."


def tamper(token: str, **changes: Any) -> str:
    """The same header and signature over a changed payload."""
    header, payload, signature = token.split(".")
    claims = json.loads(_unb64(payload))
    claims.update(changes)
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def now() -> int:
    return int(time.time())


# --- fixtures, imported by tests/auth/conftest.py and tests/users/conftest.py -----

T0 = 1_900_000_000.0  # on a 30 s step boundary plus 10 s: see Clock.step()


class Clock:
    """The clock TOTP checks read, frozen and moved by hand (never sleep)."""

    def __init__(self) -> None:
        self.now = T0

    def step(self, steps: int = 1) -> None:
        self.now += 30 * steps


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    from api.auth import totp

    c = Clock()
    monkeypatch.setattr(totp, "current_time", lambda: c.now)
    return c


@pytest.fixture
def ada(client: FlaskClient) -> Account:
    """A registered, logged-in user."""
    return make_account(client, "ada")


@pytest.fixture
def bob(client: FlaskClient) -> Account:
    return make_account(client, "bob")


class UtcClock:
    """The server's wall clock (api.users.models.utcnow, as every module
    imported it), frozen and moved by hand: sessions' expiry, the prune's
    cut-offs, events' times. JWT times stay real (tokens live minutes)."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def utc_clock(monkeypatch: pytest.MonkeyPatch) -> UtcClock:
    import sys

    from api.users import models

    original = models.utcnow
    c = UtcClock(original())
    for name, module in list(sys.modules.items()):
        if (name == "api" or name.startswith("api.")) and \
                getattr(module, "utcnow", None) is original:
            monkeypatch.setattr(module, "utcnow", lambda: c.now)
    return c
