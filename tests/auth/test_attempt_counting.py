"""A 2FA login challenge checks at most five codes, however many arrive at once.

Threads against one app on a shared database (a SQLite file, or PostgreSQL
when TEST_DATABASE_URL names one), with the code check slowed down so that
parallel guesses overlap. The count was read, the code checked, and the
count written afterwards: on PostgreSQL every guess that read the count
before the others' writes was checked (10 of 10 here). On SQLite the one
write lock already queued them; the test keeps both honest.
tests/storage/test_auth_races.py drives the same race through gunicorn.
"""
from __future__ import annotations

import os
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pyotp
import pytest
from flask import Flask

from api.auth import totp
from api.extensions import db
from tests.conftest import make_app
from tests.helpers import PASSWORD, assert_ok, bearer, make_account

GUESSES = 10


@pytest.fixture
def shared_app(tmp_path: Path) -> Iterator[Flask]:
    """An app whose threads share one database (SQLite in memory is one per connection)."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/race.db"
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()


def test_parallel_wrong_codes_are_checked_at_most_five_times(
        shared_app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    client = shared_app.test_client()
    account = make_account(client, "ada")
    secret = assert_ok(client.post("/v1/auth/2fa/setup", headers=account.headers))["secret"]
    codes = assert_ok(client.post("/v1/auth/2fa/enable", headers=account.headers,
                                  json={"code": pyotp.TOTP(secret).now()}))["recovery_codes"]
    token = assert_ok(client.post("/v1/auth/login",
                                  json={"login": "ada", "password": PASSWORD}))["challenge_token"]

    checked: list[str] = []
    real = totp.hash_recovery_code

    def slow_check(code: str) -> str:
        checked.append(code)
        time.sleep(0.05)
        return real(code)

    monkeypatch.setattr(totp, "hash_recovery_code", slow_check)
    barrier = threading.Barrier(GUESSES)

    def guess(i: int) -> tuple[int, str]:
        own = shared_app.test_client()
        barrier.wait(timeout=10)
        resp = own.post("/v1/auth/2fa/verify",
                        json={"challenge_token": token, "code": f"wrong-{i:04d}"})
        return resp.status_code, resp.get_json()["meta"]["reason"]

    with ThreadPoolExecutor(GUESSES) as pool:
        outcomes = Counter(pool.map(guess, range(GUESSES)))

    assert len(checked) == 5, checked
    assert outcomes == {(400, "auth.totp.invalid"): 5,
                        (401, "auth.challenge.exhausted"): GUESSES - 5}
    resp = client.post("/v1/auth/2fa/verify", json={"challenge_token": token, "code": codes[0]})
    assert resp.get_json()["meta"]["reason"] == "auth.challenge.exhausted"
    assert len(checked) == 5  # not even checked
    # the user logs in again and is not locked out of the account
    token = assert_ok(client.post("/v1/auth/login",
                                  json={"login": "ada", "password": PASSWORD}))["challenge_token"]
    tokens = assert_ok(client.post("/v1/auth/2fa/verify",
                                   json={"challenge_token": token, "code": codes[0]}))
    assert client.get("/v1/users/me", headers=bearer(tokens["access_token"])).status_code == 200
