"""Races on authentication state, under gunicorn (several workers and threads).

Each test fires one request many times at once (a barrier releases them
together) and checks what the database let through: the 2FA challenge's
attempt cap, 2FA enable, refresh rotation. Runs on a SQLite file, and on
PostgreSQL too when TEST_DATABASE_URL names one (a fresh database per module).
Before the fixes, on PostgreSQL 8 of 12 parallel wrong codes were checked,
8 of 8 concurrent enables succeeded, and the refresh race revoked the
winner's pair; on SQLite (one write lock, taken by each writing request's
first query) only the refresh race showed.
"""
from __future__ import annotations

import time
from collections import Counter
from typing import Any, Iterator

import pyotp
import pytest
from sqlalchemy import create_engine, text

from tests.helpers import at_once
from tests.server import Gunicorn, fresh_database, migrate, running, server_env

pytestmark = pytest.mark.slow

PASSWORD = "password-123"
PARALLEL = 12


# one server for the module: proofs expire after 1 s, the refresh grace after 2 s
ENV = {"REAUTH_MAX_AGE": "1", "REFRESH_REUSE_GRACE_SECONDS": "2"}


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("races"), "races") as url:
        migrate(server_env(url))
        yield url


@pytest.fixture(scope="module")
def srv(database: str) -> Iterator[Gunicorn]:
    yield from running(server_env(database, **ENV), workers=3)


def _outcome(result: tuple[int, Any, Any]) -> tuple[int, str | None]:
    status, _, body = result
    return status, body["meta"].get("reason")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _account(srv: Gunicorn, name: str) -> dict[str, Any]:
    status, _, body = srv.call("POST", "/v1/auth/register", {
        "username": name, "email": f"{name}@example.com", "password": PASSWORD})
    assert status == 200, body
    status, _, body = srv.call("POST", "/v1/auth/login", {"login": name, "password": PASSWORD})
    assert status == 200, body
    return body["data"]


def _setup(srv: Gunicorn, tokens: dict[str, Any]) -> str:
    status, _, body = srv.call("POST", "/v1/auth/2fa/setup", {"password": PASSWORD},
                               headers=_bearer(tokens["access_token"]))
    assert status == 200, body
    return body["data"]["secret"]


def _with_2fa(srv: Gunicorn, name: str) -> list[str]:
    """An account with 2FA on; its recovery codes."""
    tokens = _account(srv, name)
    secret = _setup(srv, tokens)
    status, _, body = srv.call("POST", "/v1/auth/2fa/enable",
                               {"code": pyotp.TOTP(secret).now(), "password": PASSWORD},
                               headers=_bearer(tokens["access_token"]))
    assert status == 200, body
    return body["data"]["recovery_codes"]


def _challenge(srv: Gunicorn, name: str) -> str:
    status, _, body = srv.call("POST", "/v1/auth/login", {"login": name, "password": PASSWORD})
    assert status == 200 and body["data"]["two_factor_required"], body
    return body["data"]["challenge_token"]


def test_parallel_wrong_codes_never_exceed_the_challenge_cap(srv: Gunicorn) -> None:
    """Five attempts per challenge, however many arrive at once. The cap was
    read, the code checked, and the count written afterwards: parallel
    guesses all read a count under five and were all checked."""
    codes = _with_2fa(srv, "guessed")
    token = _challenge(srv, "guessed")
    # recovery-code-shaped guesses (a TOTP-shaped one may be the real code)
    results = at_once(PARALLEL, lambda i: srv.call(
        "POST", "/v1/auth/2fa/verify", {"challenge_token": token, "code": f"wrong-{i:04d}"}))
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {(400, "auth.totp.invalid"): 5,
                        (401, "auth.challenge.exhausted"): PARALLEL - 5}, outcomes
    # the challenge is void, even for a right code; a new login works
    status, _, body = srv.call("POST", "/v1/auth/2fa/verify",
                               {"challenge_token": token, "code": codes[0]})
    assert (status, body["meta"]["reason"]) == (401, "auth.challenge.exhausted")
    status, _, body = srv.call("POST", "/v1/auth/2fa/verify",
                               {"challenge_token": _challenge(srv, "guessed"),
                                "code": codes[0]})
    assert status == 200, body


def test_a_right_code_among_parallel_wrong_ones(srv: Gunicorn) -> None:
    """Four wrong guesses and the right code at once: the right one logs in
    exactly once; a guess checked after it finds the challenge used."""
    codes = _with_2fa(srv, "mixed")
    token = _challenge(srv, "mixed")
    guesses = ["wrong-0001", "wrong-0002", codes[0], "wrong-0003", "wrong-0004"]
    results = at_once(5, lambda i: srv.call(
        "POST", "/v1/auth/2fa/verify", {"challenge_token": token, "code": guesses[i]}))
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes[(200, None)] == 1, outcomes
    assert set(outcomes) <= {(200, None), (400, "auth.totp.invalid"),
                             (401, "auth.challenge.invalid")}, outcomes


def test_concurrent_enables_have_one_winner(srv: Gunicorn, database: str) -> None:
    """Two enables of one pending secret both succeeded on PostgreSQL (each
    read 2FA off), and one set of recovery codes was dead. Compare-and-set on
    the 2FA state: one wins, the others answer already enabled (or, having
    read after the winner's commit, find their token's session revoked)."""
    tokens = _account(srv, "enabler")
    secret = _setup(srv, tokens)
    code = pyotp.TOTP(secret).now()
    results = at_once(8, lambda i: srv.call(
        "POST", "/v1/auth/2fa/enable", {"code": code, "password": PASSWORD},
        headers=_bearer(tokens["access_token"])))
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes[(200, None)] == 1, outcomes
    assert set(outcomes) <= {(200, None), (400, "auth.totp.already_enabled"),
                             (401, "auth.token.2fa_mismatch")}, outcomes
    winner = next(body["data"] for status, _, body in results if status == 200)
    # only the winner's ten codes exist, and they work
    engine = create_engine(database)
    try:
        with engine.connect() as conn:
            stored = conn.execute(text(
                "SELECT count(*) FROM recovery_codes JOIN users ON users.id = user_id "
                "WHERE username = 'enabler'")).scalar()
    finally:
        engine.dispose()
    assert stored == 10
    status, _, body = srv.call("POST", "/v1/auth/2fa/verify", {
        "challenge_token": _challenge(srv, "enabler"),
        "code": winner["recovery_codes"][0]})
    assert status == 200, body
    status, _, body = srv.call("GET", "/v1/users/me",
                               headers=_bearer(winner["access_token"]))
    assert status == 200 and body["data"]["two_factor_enabled"] is True


def test_refresh_race_keeps_the_winners_pair(srv: Gunicorn) -> None:
    """Concurrent refreshes with one token: one new pair, which keeps
    working. A loser that read after the winner's commit took the spent token
    for a reuse and revoked the session, the winner's new pair with it."""
    tokens = _account(srv, "rotator")
    results = at_once(PARALLEL, lambda i: srv.call(
        "POST", "/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}))
    outcomes = Counter(_outcome(r) for r in results)
    assert outcomes == {(200, None): 1,
                        (401, "auth.refresh.superseded"): PARALLEL - 1}, outcomes
    pair = next(body["data"] for status, _, body in results if status == 200)
    status, _, body = srv.call("GET", "/v1/users/me", headers=_bearer(pair["access_token"]))
    assert status == 200, body
    status, _, body = srv.call("POST", "/v1/auth/refresh",
                               {"refresh_token": pair["refresh_token"]})
    assert status == 200, body
    newest = body["data"]
    # within the window, the previous generation is still only superseded
    status, _, body = srv.call("POST", "/v1/auth/refresh",
                               {"refresh_token": pair["refresh_token"]})
    assert (status, body["meta"]["reason"]) == (401, "auth.refresh.superseded")
    # after it, a spent token is a reuse: the whole session is revoked
    time.sleep(2.2)
    status, _, body = srv.call("POST", "/v1/auth/refresh",
                               {"refresh_token": pair["refresh_token"]})
    assert (status, body["meta"]["reason"]) == (401, "auth.refresh.reused")
    status, _, body = srv.call("GET", "/v1/users/me",
                               headers=_bearer(newest["access_token"]))
    assert (status, body["meta"]["reason"]) == (401, "auth.token.revoked")
    status, _, body = srv.call("POST", "/v1/auth/refresh",
                               {"refresh_token": newest["refresh_token"]})
    assert (status, body["meta"]["reason"]) == (401, "auth.refresh.invalid")


def test_stolen_access_token_cannot_enrol_an_authenticator(srv: Gunicorn) -> None:
    """2FA setup and enable with a token whose session last proved the
    password more than REAUTH_MAX_AGE ago need the password; an email change
    always does."""
    tokens = _account(srv, "victim")
    auth = _bearer(tokens["access_token"])
    time.sleep(1.1)
    status, _, body = srv.call("POST", "/v1/auth/2fa/setup", headers=auth)
    assert (status, body["meta"]["code"], body["meta"]["reason"]) == \
        (401, 99, "auth.reauth.required")
    status, _, body = srv.call("POST", "/v1/auth/2fa/setup", {"password": "not the one"},
                               headers=auth)
    assert (status, body["meta"]["code"]) == (400, 22)
    status, _, body = srv.call("PATCH", "/v1/users/me", {"email": "thief@example.com"},
                               headers=auth)
    assert (status, body["meta"]["code"]) == (400, 88)
    assert list(body["meta"]["fields"]) == ["current_password"]
    status, _, body = srv.call("POST", "/v1/auth/2fa/setup", {"password": PASSWORD},
                               headers=auth)
    assert status == 200, body
    time.sleep(1.1)
    code = pyotp.TOTP(body["data"]["secret"]).now()
    status, _, body = srv.call("POST", "/v1/auth/2fa/enable", {"code": code}, headers=auth)
    assert (status, body["meta"]["reason"]) == (401, "auth.reauth.required")
    status, _, body = srv.call("POST", "/v1/auth/2fa/enable",
                               {"code": code, "password": PASSWORD}, headers=auth)
    assert status == 200, body
