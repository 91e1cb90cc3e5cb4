"""Response headers a browser or cache acts on (SPEC §10): every response is
`nosniff`; every response that sets no caching of its own is `no-store`
(tokens, 2FA secrets and recovery codes, accounts, errors); nothing is
built from the Host header. Through gunicorn: tests/test_hostile_http.py.
"""
from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.extensions import db
from tests.conftest import make_app
from tests.helpers import PASSWORD, assert_ok, make_account


def secured(resp: Any, no_store: bool = True) -> Any:
    assert resp.headers["X-Content-Type-Options"] == "nosniff", resp.headers
    if no_store:
        assert resp.headers["Cache-Control"] == "no-store", resp.headers
    return resp


def test_every_kind_of_response_is_nosniff_and_no_store(client: FlaskClient) -> None:
    for resp in (client.get("/health/live"), client.get("/health/ready"),
                 client.get("/nope"), client.delete("/health/live"),
                 client.options("/v1/users/me"), client.get("/v1/errors/88"),
                 client.post("/v1/auth/login", data="{", content_type="application/json"),
                 client.get("/v1/users/me"), client.get("/openapi.json")):
        secured(resp)


def test_token_and_secret_responses_are_no_store(client: FlaskClient) -> None:
    account = make_account(client)
    login = secured(client.post("/v1/auth/login",
                                json={"login": "ada", "password": PASSWORD}))
    assert "refresh_token" in assert_ok(login)
    refresh = secured(client.post("/v1/auth/refresh",
                                  json={"refresh_token": account.refresh_token}))
    assert "access_token" in assert_ok(refresh)
    # 2FA setup answers a secret (with or without re-authentication)
    setup = client.post("/v1/auth/2fa/setup", json={"password": PASSWORD},
                        headers=account.headers)
    if setup.status_code == 400:  # a body is not expected
        setup = client.post("/v1/auth/2fa/setup", headers=account.headers)
    secured(setup)
    secured(client.get("/v1/users/me", headers=account.headers))


def test_static_docs_keep_their_own_caching(client: FlaskClient) -> None:
    page = client.get("/docs/")
    secured(page, no_store=False)
    static = [line.split('"')[1] for line in page.get_data(as_text=True).split()
              if line.startswith(("src=", "href=")) and "/docs/" in line]
    assert static
    for url in static[:2]:
        resp = client.get(url)
        secured(resp, no_store=False)
        resp.close()


def test_rate_limited_answers_carry_the_headers() -> None:
    app = make_app(RATELIMIT_ENABLED=True, RATELIMIT_REGISTER="1 per minute")
    with app.app_context():
        db.drop_all()
        db.create_all()
    client = app.test_client()
    body = {"username": "x", "email": "x@example.com", "password": "short"}
    client.post("/v1/auth/register", json=body)
    limited = client.post("/v1/auth/register", json=body)
    assert limited.status_code == 429
    secured(limited)
    with app.app_context():
        db.drop_all()


@pytest.mark.parametrize("accept", ["application/problem+json"])
def test_problem_type_is_relative_whatever_the_host(client: FlaskClient, accept: str) -> None:
    r = client.get("/nope", headers={"Accept": accept, "Host": "evil.example"})
    assert r.get_json()["type"] == "/v1/errors/10"
    r = client.get("/nope", headers={"Accept": accept, "X-Forwarded-Host": "evil.example"},
                   base_url="https://evil.example")
    assert r.get_json()["type"] == "/v1/errors/10"


def test_problem_type_uses_public_url() -> None:
    app: Flask = make_app(PUBLIC_URL="https://accounts.example.com/gatehouse")
    r = app.test_client().get("/nope", headers={
        "Accept": "application/problem+json", "Host": "evil.example"})
    assert r.get_json()["type"] == "https://accounts.example.com/gatehouse/v1/errors/10"
