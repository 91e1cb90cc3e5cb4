"""Real responses the fuzzer cannot reach, validated against the document.

Random input never guesses a password, a TOTP code or a refresh token, never
exhausts a rate limit, breaks the database or crashes a view. So the success
bodies of those flows, and the 429/77/500 answers, are produced here on
purpose and checked with schemathesis against /openapi.json: the status is
documented for that operation, so are the content type and the required
headers, and the body matches the documented schema.
"""
from __future__ import annotations

import uuid
from typing import Any, Iterator

import pyotp
import pytest
import schemathesis
from flask import Flask
from flask.testing import FlaskClient

from api.auth import totp
from api.extensions import db
from api.openapi import spec_of
from api.users import service as users_service
from api.users.models import User
from tests.conftest import make_app

PASSWORD = "correct horse battery"
PROBLEM = {"Accept": "application/problem+json"}


class Checker:
    """Validates one response against the operation it answered."""

    def __init__(self, app: Flask) -> None:
        self.doc = spec_of(app)
        self.schema = schemathesis.openapi.from_dict(self.doc)

    def __call__(self, method: str, path: str, resp: Any, status: int,
                 code: int | None = None) -> Any:
        assert resp.status_code == status, resp.get_data(as_text=True)
        responses = self.doc["paths"][path][method.lower()]["responses"]
        documented = responses.get(str(resp.status_code))
        assert documented is not None, f"{method} {path}: {resp.status_code} undocumented"
        assert resp.mimetype in documented["content"]
        for name, header in documented.get("headers", {}).items():
            if "$ref" in header:
                header = self.doc["components"]["headers"][header["$ref"].split("/")[-1]]
            assert not header.get("required") or name in resp.headers, name
        self.schema[path][method].validate_response(resp)
        body = resp.get_json()
        if code is not None:
            got = body["code"] if resp.mimetype == "application/problem+json" \
                else body["meta"]["code"]
            assert got == code
        return body


def bearer(token: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", **headers}


@pytest.fixture
def check(app: Flask) -> Checker:
    return Checker(app)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    now = [1_900_000_010.0]
    monkeypatch.setattr(totp, "current_time", lambda: now[0])
    return now


def _register_and_login(client: FlaskClient, check: Checker, name: str) -> dict:
    body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    check("POST", "/v1/auth/register", client.post("/v1/auth/register", json=body), 200)
    r = client.post("/v1/auth/login", json={"login": name, "password": PASSWORD})
    return check("POST", "/v1/auth/login", r, 200)["data"]


def test_account_and_session_flow(app: Flask, client: FlaskClient, check: Checker) -> None:
    tokens = _register_and_login(client, check, "ada")
    auth = bearer(tokens["access_token"])
    check("POST", "/v1/auth/register", client.post("/v1/auth/register", json={
        "username": "ada", "email": "x@example.com", "password": PASSWORD}), 400, 88)
    check("POST", "/v1/auth/login", client.post("/v1/auth/login", json={
        "login": "ada", "password": "wrong password"}), 400, 22)
    check("POST", "/v1/auth/login", client.post("/v1/auth/login", json={
        "login": "nobody", "password": PASSWORD}, headers=PROBLEM), 404, 21)

    me = check("GET", "/v1/users/me", client.get("/v1/users/me", headers=auth), 200)["data"]
    check("GET", "/v1/users/me", client.get("/v1/users/me"), 401, 99)
    check("GET", "/v1/users/me", client.get("/v1/users/me", headers=PROBLEM), 401, 99)
    check("PATCH", "/v1/users/me", client.patch("/v1/users/me", headers=auth,
                                                json={"display_name": "Ada"}), 200)
    check("PATCH", "/v1/users/me", client.patch("/v1/users/me", headers=auth,
                                                json={"nick": "x"}), 400, 88)
    one = f"/v1/users/{me['id']}"
    check("GET", "/v1/users/{user_id}", client.get(one, headers=auth), 200)
    check("GET", "/v1/users/{user_id}", client.get(
        "/v1/users/999999", headers={**auth, "Accept-Language": "zh"}), 404, 21)
    check("GET", "/v1/users/{user_id}", client.get("/v1/users/x1", headers=auth), 400, 88)
    check("GET", "/v1/users", client.get("/v1/users", headers=auth), 401, 99)

    r = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    fresh = check("POST", "/v1/auth/refresh", r, 200)["data"]
    auth = bearer(fresh["access_token"])
    r = client.post("/v1/auth/password", headers=auth, json={
        "current_password": PASSWORD, "new_password": PASSWORD + "!"})
    check("POST", "/v1/auth/password", r, 200)
    check("POST", "/v1/auth/logout", client.post("/v1/auth/logout", headers=auth), 200)
    check("POST", "/v1/auth/logout", client.post("/v1/auth/logout", headers=auth), 401, 99)
    r = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    check("POST", "/v1/auth/refresh", r, 401, 99)

    tokens = check("POST", "/v1/auth/login", client.post("/v1/auth/login", json={
        "login": "ada@example.com", "password": PASSWORD + "!"}), 200)["data"]
    auth = bearer(tokens["access_token"])
    r = client.delete("/v1/users/me", headers=auth, json={"password": PASSWORD})
    check("DELETE", "/v1/users/me", r, 400, 22)
    r = client.delete("/v1/users/me", headers=auth, json={"password": PASSWORD + "!"})
    check("DELETE", "/v1/users/me", r, 200)
    check("GET", "/v1/users/me", client.get("/v1/users/me", headers=auth), 401, 99)


def test_two_factor_flow(client: FlaskClient, check: Checker, clock: list[float]) -> None:
    plain = _register_and_login(client, check, "ada")
    auth = bearer(plain["access_token"])
    setup = check("POST", "/v1/auth/2fa/setup",
                  client.post("/v1/auth/2fa/setup", headers=auth), 200)["data"]
    check("POST", "/v1/auth/2fa/enable", client.post(
        "/v1/auth/2fa/enable", headers=auth, json={"code": "000000"}), 400, 88)
    code = pyotp.TOTP(setup["secret"]).at(clock[0])
    enabled = check("POST", "/v1/auth/2fa/enable", client.post(
        "/v1/auth/2fa/enable", headers=auth, json={"code": code}), 200)["data"]
    assert enabled["access_token"].startswith("2f.")
    check("POST", "/v1/auth/2fa/setup", client.post("/v1/auth/2fa/setup", headers=bearer(
        enabled["access_token"])), 400, 88)

    challenge = check("POST", "/v1/auth/login", client.post("/v1/auth/login", json={
        "login": "ada", "password": PASSWORD}), 200)["data"]
    assert challenge["two_factor_required"] is True
    r = client.post("/v1/auth/2fa/verify", json={
        "challenge_token": "not-a-challenge", "code": "123456"})
    check("POST", "/v1/auth/2fa/verify", r, 401, 99)
    r = client.post("/v1/auth/2fa/verify", json={
        "challenge_token": challenge["challenge_token"], "code": enabled["recovery_codes"][0]})
    tokens = check("POST", "/v1/auth/2fa/verify", r, 200)["data"]
    auth = bearer(tokens["access_token"])
    check("GET", "/v1/users/me", client.get("/v1/users/me", headers=auth), 200)
    stripped = bearer(tokens["access_token"][3:])
    check("GET", "/v1/users/me", client.get("/v1/users/me", headers=stripped), 401, 99)

    clock[0] += 30
    code = pyotp.TOTP(setup["secret"]).at(clock[0])
    r = client.post("/v1/auth/2fa/disable", headers=auth, json={
        "password": "wrong password", "code": code})
    check("POST", "/v1/auth/2fa/disable", r, 400, 22)
    r = client.post("/v1/auth/2fa/disable", headers=auth, json={
        "password": PASSWORD, "code": code})
    assert not check("POST", "/v1/auth/2fa/disable", r, 200)["data"][
        "access_token"].startswith("2f.")


def test_admin_list_and_public_endpoints(app: Flask, client: FlaskClient,
                                         check: Checker) -> None:
    tokens = _register_and_login(client, check, "root")
    _register_and_login(client, check, "bob")
    with app.app_context():
        db.session.execute(db.update(User).where(User.username == "root")
                           .values(is_admin=True))
        db.session.commit()
    auth = bearer(tokens["access_token"])
    page = check("GET", "/v1/users", client.get("/v1/users?limit=1", headers=auth), 200)
    assert page["pagination"]["next_cursor"]
    r = client.get(f"/v1/users?cursor={page['pagination']['next_cursor']}", headers=auth)
    assert check("GET", "/v1/users", r, 200)["pagination"]["next_cursor"] is None
    check("GET", "/v1/users", client.get("/v1/users?cursor=zz", headers=auth), 400, 88)
    check("GET", "/v1/users", client.get("/v1/users?limit=0", headers=auth), 400, 88)

    check("GET", "/v1/errors", client.get("/v1/errors"), 200)
    check("GET", "/v1/errors/{code}", client.get("/v1/errors/99"), 200)
    check("GET", "/v1/errors/{code}", client.get("/v1/errors/11"), 404, 10)
    check("GET", "/health/live", client.get("/health/live"), 200)
    check("GET", "/health/ready", client.get("/health/ready"), 200)
    check("POST", "/v1/auth/register", client.post(
        "/v1/auth/register", data="{", content_type="application/json"), 400, 88)


@pytest.fixture
def limited() -> Iterator[Flask]:
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_LOGIN="2 per minute",
                   RATELIMIT_KEY_PREFIX=f"openapi-{uuid.uuid4().hex}")
    with app.app_context():
        db.create_all()
    yield app
    with app.app_context():
        db.drop_all()


def test_rate_limit_answers_conform(limited: Flask) -> None:
    check, client = Checker(limited), limited.test_client()
    body = {"login": "nobody", "password": PASSWORD}
    for _ in range(2):
        check("POST", "/v1/auth/login", client.post("/v1/auth/login", json=body), 404, 21)
    check("POST", "/v1/auth/login", client.post("/v1/auth/login", json=body), 429, 429)
    r = client.post("/v1/auth/login", json=body, headers=PROBLEM)
    check("POST", "/v1/auth/login", r, 429, 429)


def test_database_failure_and_crash_conform(app: Flask, client: FlaskClient, check: Checker,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = _register_and_login(client, check, "ada")
    auth = bearer(tokens["access_token"])

    def crash(*_: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(users_service, "get_profile", crash)
    check("GET", "/v1/users/{user_id}", client.get("/v1/users/1", headers=auth), 500, 500)
    r = client.get("/v1/users/1", headers={**auth, **PROBLEM})
    check("GET", "/v1/users/{user_id}", r, 500, 500)

    with app.app_context():
        db.drop_all()
    check("GET", "/v1/users/me", client.get("/v1/users/me", headers=auth), 500, 77)
    r = client.post("/v1/auth/register", json={
        "username": "bob", "email": "bob@example.com", "password": PASSWORD})
    check("POST", "/v1/auth/register", r, 500, 77)
    with app.app_context():
        db.create_all()  # the app fixture drops the tables again
