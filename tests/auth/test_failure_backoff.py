"""Failed password and second-factor checks: counted per proven account and
per address, with a capped exponential backoff (SPEC §10).

The policy under test (small numbers, the same shape as the defaults):
3 free failures per account, then waits of 1, 2, 4 s, capped at 4 s. The
storage's clock is moved by hand: no test sleeps through a backoff.
"""
from __future__ import annotations

import types
from typing import Any, Callable, Iterator

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient

from api.extensions import db
from tests.conftest import make_app
from tests.helpers import (
    PASSWORD, Account, Clock, bearer, claims_of, forge, make_account, sign, unsigned)

FREE, CAP = 3, 4
POLICY = {
    "RATELIMIT_ENABLED": True,
    # the per-address request limits stay out of the way here
    "RATELIMIT_LOGIN": "1000 per minute", "RATELIMIT_REGISTER": "1000 per minute",
    "RATELIMIT_REFRESH": "1000 per minute", "RATELIMIT_2FA": "1000 per minute",
    "RATELIMIT_REFRESH_ACCOUNT": "3 per minute",
    "AUTH_FAILURES_FREE": FREE, "AUTH_FAILURES_FREE_PER_ADDRESS": 1000,
    "AUTH_FAILURES_WINDOW": 60, "AUTH_BACKOFF_BASE": 1, "AUTH_BACKOFF_MAX": CAP,
}
WRONG = "not the password at all"


class StorageClock:
    """The time the limiter's memory storage and the backoff read."""

    def __init__(self, start: float) -> None:
        self.now = start

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def storage_clock(monkeypatch: pytest.MonkeyPatch) -> StorageClock:
    import time

    import limits.storage.memory as memory

    from api.auth import attempts

    clock = StorageClock(time.time())
    fake = types.SimpleNamespace(time=clock.time)
    monkeypatch.setattr(memory, "time", fake)
    monkeypatch.setattr(attempts, "time", fake)
    return clock


@pytest.fixture
def app(storage_clock: StorageClock) -> Iterator[Flask]:
    app = make_app(**POLICY)
    with app.app_context():
        db.drop_all()  # a fresh schema: PostgreSQL keeps earlier tests' rows
        db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.drop_all()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ada(client: FlaskClient) -> Account:
    return make_account(client, "ada")


def post_login(client: FlaskClient, name: str, password: str, addr: str = "10.0.0.1") -> Any:
    return client.post("/v1/auth/login", json={"login": name, "password": password},
                       environ_base={"REMOTE_ADDR": addr})


def meta(resp: Any) -> dict:
    return resp.get_json()["meta"]


def assert_backoff(resp: Any, most: int = CAP) -> int:
    """429 auth.attempts.too_many with a Retry-After of at most `most`."""
    assert resp.status_code == 429, resp.get_json()
    assert (meta(resp)["code"], meta(resp)["reason"]) == (429, "auth.attempts.too_many")
    wait = int(resp.headers["Retry-After"])
    assert 1 <= wait <= most
    return wait


def fail_logins(client: FlaskClient, name: str, times: int) -> None:
    for i in range(times):
        resp = post_login(client, name, WRONG, addr=f"10.6.6.{i}")  # an attacker, many addresses
        assert resp.status_code == 400 and meta(resp)["code"] == 22, resp.get_json()


def test_backoff_after_free_failures_then_the_owner_gets_in(
        client: FlaskClient, ada: Account, storage_clock: StorageClock) -> None:
    fail_logins(client, "ada", FREE + 1)  # 3 free, the 4th earns a 1 s wait
    # the owner's right password is refused too, but only for that wait
    assert_backoff(post_login(client, "ada", PASSWORD, addr="10.0.0.2"), most=1)
    # no hash is computed while waiting, and the wait is not extended by asking
    assert_backoff(post_login(client, "ada", WRONG, addr="10.6.6.9"), most=1)
    storage_clock.advance(1.01)
    assert post_login(client, "ada", PASSWORD, addr="10.0.0.2").status_code == 200
    # a login resets the account's count: three free failures again
    fail_logins(client, "ada", FREE)
    assert post_login(client, "ada", PASSWORD).status_code == 200


def test_waits_double_and_stop_at_the_cap(client: FlaskClient, ada: Account,
                                          storage_clock: StorageClock) -> None:
    """An attacker failing after every wait: 1, 2, 4, 4, 4 s; the owner's
    right password is never held longer than the cap."""
    fail_logins(client, "ada", FREE)
    waits = []
    for _ in range(5):
        assert meta(post_login(client, "ada", WRONG, addr="10.6.6.1"))["code"] == 22
        waits.append(assert_backoff(post_login(client, "ada", PASSWORD, addr="10.0.0.2")))
        storage_clock.advance(waits[-1] + 0.01)
    assert waits == [1, 2, 4, 4, 4]
    assert post_login(client, "ada", PASSWORD, addr="10.0.0.2").status_code == 200


def test_an_address_the_owner_logged_in_from_is_not_held_by_others(
        client: FlaskClient, ada: Account) -> None:
    """Where the account completed a login lately, only failures made from
    that address hold the check: an attacker elsewhere delays the owner
    there not at all, and one on that address is held as usual."""
    assert post_login(client, "ada", PASSWORD, addr="10.0.0.5").status_code == 200
    fail_logins(client, "ada", FREE + 1)  # the account waits now
    assert_backoff(post_login(client, "ada", PASSWORD, addr="10.0.0.6"))
    assert post_login(client, "ada", PASSWORD, addr="10.0.0.5").status_code == 200
    for _ in range(FREE + 1):
        assert meta(post_login(client, "ada", WRONG, addr="10.0.0.5"))["code"] == 22
    assert_backoff(post_login(client, "ada", PASSWORD, addr="10.0.0.5"), most=1)


def test_the_window_forgets(client: FlaskClient, ada: Account,
                            storage_clock: StorageClock) -> None:
    fail_logins(client, "ada", FREE)
    storage_clock.advance(61)  # AUTH_FAILURES_WINDOW
    fail_logins(client, "ada", FREE)  # free again: no wait
    assert post_login(client, "ada", PASSWORD).status_code == 200


def test_username_and_email_share_one_account_bucket(client: FlaskClient,
                                                     ada: Account) -> None:
    for name in ("ada", "ADA@example.com", "Ada", "ada@EXAMPLE.com"):
        assert meta(post_login(client, name, WRONG, addr="10.6.6.1"))["code"] == 22
    assert_backoff(post_login(client, "ada@example.com", PASSWORD))


def test_unknown_names_do_not_touch_the_owner(client: FlaskClient, ada: Account) -> None:
    """Names that resolve to no account (look-alikes, the name with spaces,
    unicode tricks) never reach the owner's bucket."""
    for name in ("ada ", " ada", "ada\u200b", "аda", "ada@example.co", "\u00e0da", "adA_"):
        for i in range(FREE + 2):
            post_login(client, name, WRONG, addr=f"10.6.7.{i}")
    assert post_login(client, "ada", PASSWORD).status_code == 200


def test_unknown_names_back_off_like_accounts(client: FlaskClient) -> None:
    """A name that is no account answers as an account would, so a 429 does
    not tell which names exist."""
    for i in range(FREE + 1):
        assert meta(post_login(client, "nobody", WRONG, addr=f"10.6.8.{i}"))["code"] == 21
    assert_backoff(post_login(client, "nobody", WRONG, addr="10.6.8.99"), most=1)


def test_one_address_spraying_many_accounts_is_held(app: Flask, client: FlaskClient) -> None:
    app.config["AUTH_FAILURES_FREE_PER_ADDRESS"] = 4
    for i in range(5):
        post_login(client, f"victim{i}", WRONG, addr="10.9.9.9")  # one failure each
    assert_backoff(post_login(client, "victim9", WRONG, addr="10.9.9.9"), most=1)
    # other addresses are not held
    assert meta(post_login(client, "victim9", WRONG, addr="10.9.9.8"))["code"] == 21


# --- forged tokens name no bucket --------------------------------------------

def enable_2fa(client: FlaskClient, account: Account, clock: Clock) -> str:
    setup = client.post("/v1/auth/2fa/setup", headers=account.headers)
    assert setup.status_code == 200, setup.get_json()
    secret = setup.get_json()["data"]["secret"]
    resp = client.post("/v1/auth/2fa/enable", headers=account.headers,
                       json={"code": pyotp.TOTP(secret).at(clock.now)})
    assert resp.status_code == 200, resp.get_json()
    return secret


def challenge(client: FlaskClient, name: str = "ada") -> str:
    resp = post_login(client, name, PASSWORD)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["data"]["challenge_token"]


def verify(client: FlaskClient, token: str, code: str, addr: str = "10.0.0.1") -> Any:
    return client.post("/v1/auth/2fa/verify", json={"challenge_token": token, "code": code},
                       environ_base={"REMOTE_ADDR": addr})


def test_forged_challenge_tokens_do_not_touch_the_owner(
        app: Flask, client: FlaskClient, ada: Account, clock: Clock) -> None:
    secret = enable_2fa(client, ada, clock)
    real = challenge(client)
    claims = claims_of(real)
    forgeries = [unsigned(claims), sign(app, claims, key="k" * 40),
                 forge(app, real, sid="0" * 32)]
    for token in forgeries:  # 24 in all: more than any per-account budget
        for i in range(8):
            resp = verify(client, token, "000000", addr=f"10.6.9.{i}")
            assert resp.status_code == 401, resp.get_json()
    clock.step()
    assert verify(client, real, pyotp.TOTP(secret).at(clock.now)).status_code == 200


def test_forged_refresh_tokens_do_not_spend_the_sessions_limit(
        client: FlaskClient, ada: Account) -> None:
    """The per-session refresh limit counts only tokens whose MAC is right."""
    session, generation, _, _ = ada.refresh_token.split(".")
    for i in range(10):
        forged = f"{session}.{generation}.{'x' * 43}.{'y' * 24}"
        resp = client.post("/v1/auth/refresh", json={"refresh_token": forged},
                           environ_base={"REMOTE_ADDR": f"10.6.10.{i}"})
        assert (resp.status_code, meta(resp)["reason"]) == (401, "auth.refresh.invalid")
    resp = client.post("/v1/auth/refresh", json={"refresh_token": ada.refresh_token})
    assert resp.status_code == 200, resp.get_json()


def test_real_refreshes_are_limited_per_session(client: FlaskClient, ada: Account) -> None:
    token = ada.refresh_token
    for i in range(3):  # RATELIMIT_REFRESH_ACCOUNT: 3 per minute, whatever the address
        resp = client.post("/v1/auth/refresh", json={"refresh_token": token},
                           environ_base={"REMOTE_ADDR": f"10.0.3.{i}"})
        assert resp.status_code == 200, resp.get_json()
        token = resp.get_json()["data"]["refresh_token"]
    resp = client.post("/v1/auth/refresh", json={"refresh_token": token},
                       environ_base={"REMOTE_ADDR": "10.0.3.9"})
    assert (resp.status_code, meta(resp)["reason"]) == (429, "request.rate.limited")
    assert 1 <= int(resp.headers["Retry-After"]) <= 60


# --- every endpoint that checks a password or a second factor counts ------------

def _wrong_password_change(client: FlaskClient, a: Account) -> Any:
    return client.post("/v1/auth/password", headers=a.headers,
                       json={"current_password": WRONG, "new_password": "another long pass 1"})


def _wrong_delete(client: FlaskClient, a: Account) -> Any:
    return client.delete("/v1/users/me", headers=a.headers, json={"password": WRONG})


def _wrong_email_change(client: FlaskClient, a: Account) -> Any:
    return client.patch("/v1/users/me", headers=a.headers,
                        json={"email": "new@example.com", "current_password": WRONG})


def _wrong_2fa_setup_password(client: FlaskClient, a: Account) -> Any:
    return client.post("/v1/auth/2fa/setup", headers=a.headers, json={"password": WRONG})


PASSWORD_CHECKS: dict[str, Callable[[FlaskClient, Account], Any]] = {
    "login": lambda c, a: post_login(c, a.username, WRONG),
    "password-change": _wrong_password_change,
    "account-delete": _wrong_delete,
    "email-change": _wrong_email_change,
    "2fa-setup-reauth": _wrong_2fa_setup_password,
}


@pytest.mark.parametrize("check", list(PASSWORD_CHECKS))
def test_wrong_passwords_count_on_every_endpoint(client: FlaskClient, ada: Account,
                                                 check: str) -> None:
    for _ in range(FREE + 1):
        resp = PASSWORD_CHECKS[check](client, ada)
        assert (resp.status_code, meta(resp)["code"]) == (400, 22), resp.get_json()
    assert_backoff(PASSWORD_CHECKS[check](client, ada), most=1)
    assert_backoff(post_login(client, "ada", PASSWORD), most=1)  # one bucket for all


def test_wrong_codes_count_on_2fa_enable(client: FlaskClient, ada: Account,
                                         clock: Clock) -> None:
    setup = client.post("/v1/auth/2fa/setup", headers=ada.headers)
    assert setup.status_code == 200, setup.get_json()
    secret = setup.get_json()["data"]["secret"]
    wrong = f"{(int(pyotp.TOTP(secret).at(clock.now)) + 1) % 1000000:06d}"
    for _ in range(FREE + 1):
        resp = client.post("/v1/auth/2fa/enable", headers=ada.headers, json={"code": wrong})
        assert meta(resp)["reason"] == "auth.totp.invalid"
    assert_backoff(client.post("/v1/auth/2fa/enable", headers=ada.headers,
                               json={"code": pyotp.TOTP(secret).at(clock.now)}), most=1)
    assert_backoff(post_login(client, "ada", PASSWORD), most=1)


def test_wrong_codes_count_on_2fa_verify_across_challenges(
        client: FlaskClient, ada: Account, clock: Clock,
        storage_clock: StorageClock) -> None:
    """Failures are the account's, not the challenge's: a new login does
    not bring new free guesses (a right password for a 2FA account is not a
    completed login, so it resets nothing)."""
    secret = enable_2fa(client, ada, clock)
    wrong = f"{(int(pyotp.TOTP(secret).at(clock.now)) + 1) % 1000000:06d}"
    for _ in range(FREE + 1):
        resp = verify(client, challenge(client), wrong)
        assert meta(resp)["reason"] == "auth.totp.invalid"
    assert_backoff(post_login(client, "ada", PASSWORD), most=1)
    storage_clock.advance(1.01)
    clock.step()
    assert verify(client, challenge(client), pyotp.TOTP(secret).at(clock.now)).status_code == 200


@pytest.mark.parametrize("wrong_part", ["password", "code"])
def test_wrong_password_or_code_count_on_2fa_disable(
        client: FlaskClient, ada: Account, clock: Clock, wrong_part: str) -> None:
    secret = enable_2fa(client, ada, clock)
    clock.step()
    token = verify(client, challenge(client), pyotp.TOTP(secret).at(clock.now))
    headers = bearer(token.get_json()["data"]["access_token"])
    wrong_code = f"{(int(pyotp.TOTP(secret).at(clock.now)) + 1) % 1000000:06d}"
    body = {"password": WRONG, "code": pyotp.TOTP(secret).at(clock.now)} \
        if wrong_part == "password" else {"password": PASSWORD, "code": wrong_code}
    for _ in range(FREE + 1):
        resp = client.post("/v1/auth/2fa/disable", headers=headers, json=body)
        assert resp.status_code == 400, resp.get_json()
    assert_backoff(client.post("/v1/auth/2fa/disable", headers=headers, json=body), most=1)
    assert_backoff(post_login(client, "ada", PASSWORD, addr="10.0.0.99"), most=1)


def test_limits_off_count_nothing() -> None:
    app = make_app(**{**POLICY, "RATELIMIT_ENABLED": False})
    with app.app_context():
        db.drop_all()  # a fresh schema: PostgreSQL keeps earlier tests' rows
        db.create_all()
    client = app.test_client()
    make_account(client, "ada")
    fail_logins(client, "ada", FREE + 5)
    assert post_login(client, "ada", PASSWORD).status_code == 200
