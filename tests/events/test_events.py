"""The security event log: each action records its one event, failures too,
and the owner reads them (GET /v1/users/me/events, `flask users events`)."""
from __future__ import annotations

import logging
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, select

from api.events.kinds import KINDS
from api.events.models import SecurityEvent
from api.extensions import db
from tests.mail.mailbox import confirm_email_change
from tests.helpers import (
    PASSWORD, Account, Clock, assert_error, assert_ok, bearer, change_password, refresh)

AGENT = "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0"


def events(client: FlaskClient, token: str, **params: Any) -> list[dict[str, Any]]:
    return assert_ok(client.get("/v1/users/me/events", headers=bearer(token),
                                query_string=params or {"limit": 100}))


class Log:
    """What was recorded for one account since the last look, oldest first."""

    def __init__(self, app: Flask, user_id: int) -> None:
        self.app, self.user_id, self.seen = app, user_id, 0

    def new(self) -> list[SecurityEvent]:
        with self.app.app_context():
            rows = list(db.session.execute(
                select(SecurityEvent).where(SecurityEvent.user_id == self.user_id,
                                            SecurityEvent.id > self.seen)
                .order_by(SecurityEvent.id)).scalars())
            db.session.expunge_all()
        if rows:
            self.seen = rows[-1].id
        return rows

    def kinds(self) -> list[str]:
        return [e.kind for e in self.new()]

    def one(self, kind: str) -> SecurityEvent:
        rows = self.new()
        assert [e.kind for e in rows] == [kind]
        return rows[0]


@pytest.fixture
def log(app: Flask, ada: Account) -> Log:
    journal = Log(app, ada.id)
    journal.new()  # the fixture's own sign-in
    return journal


def login(client: FlaskClient, password: str = PASSWORD, name: str = "ada") -> Any:
    return client.post("/v1/auth/login", json={"login": name, "password": password},
                       headers={"User-Agent": AGENT})


def test_sign_in_succeeded_names_its_session_address_and_agent(
        client: FlaskClient, ada: Account, log: Log) -> None:
    tokens = assert_ok(login(client))
    event = log.one("sign_in.succeeded")
    assert event.details == {"method": "password"}
    assert event.client_address == "127.0.0.1"
    assert event.user_agent == AGENT
    assert event.session_id == tokens["refresh_token"].split(".")[0]


def test_a_failed_sign_in_is_recorded_though_its_request_rolls_back(
        client: FlaskClient, ada: Account, log: Log, runner: FlaskCliRunner) -> None:
    assert_error(login(client, "wrong password"), 22, "auth.password.mismatch")
    event = log.one("sign_in.failed")
    assert event.details == {"reason": "wrong_password"}
    assert event.user_agent == AGENT and event.session_id is None
    assert runner.invoke(args=["users", "block", "ada"]).exit_code == 0
    assert log.kinds() == ["account.blocked"]
    assert_error(login(client), 99, "auth.account.blocked")
    assert log.one("sign_in.failed").details == {"reason": "blocked"}
    assert runner.invoke(args=["users", "unblock", "ada"]).exit_code == 0
    assert log.one("account.unblocked").details == {"by": "admin"}
    # an unknown login has no account to record against
    assert_error(login(client, name="nobody"), 21, "auth.login.unknown_user")
    with client.application.app_context():
        assert db.session.scalar(select(func.count()).select_from(SecurityEvent)) == 5


def test_logout_password_change_reuse_and_session_revocation(
        client: FlaskClient, ada: Account, log: Log) -> None:
    other = assert_ok(login(client))
    log.new()
    spent = other["refresh_token"]
    rotated = assert_ok(refresh(client, spent))
    assert log.kinds() == []  # a refresh is not an event
    client.application.config["REFRESH_REUSE_GRACE_SECONDS"] = 0
    assert_error(refresh(client, spent), 99, "auth.refresh.reused")
    assert log.one("refresh_token.reused").session_id == spent.split(".")[0]
    assert_error(refresh(client, rotated["refresh_token"]), 99, "auth.refresh.invalid")
    assert log.kinds() == []

    third = assert_ok(login(client))
    log.new()
    sid = third["refresh_token"].split(".")[0]
    assert_ok(client.delete(f"/v1/auth/sessions/{sid}", headers=ada.headers))
    revoked = log.one("session.revoked")
    assert revoked.details == {"by": "user", "session": sid}
    assert revoked.session_id == ada.refresh_token.split(".")[0]  # where it was done from

    assert_ok(change_password(client, ada))
    assert log.one("password.changed").session_id == ada.refresh_token.split(".")[0]
    assert_ok(client.post("/v1/auth/logout", json={"scope": "others"}, headers=ada.headers))
    assert log.one("logout").details == {"scope": "others", "sessions": 0}
    assert_ok(client.post("/v1/auth/logout", headers=ada.headers))
    assert log.one("logout").details == {"scope": "current", "sessions": 1}


def test_email_change_is_recorded(client: FlaskClient, ada: Account, log: Log) -> None:
    assert_ok(client.patch("/v1/users/me", headers=ada.headers,
                           json={"email": "ada@new.example", "current_password": PASSWORD}))
    assert log.kinds() == ["email.change_requested"]
    confirm_email_change(client, client.application)
    assert log.kinds() == ["email.change_confirmed"]
    assert_ok(client.patch("/v1/users/me", headers=ada.headers, json={"display_name": "A"}))
    assert log.kinds() == []


def test_two_factor_events(client: FlaskClient, ada: Account, log: Log, clock: Clock,
                           runner: FlaskCliRunner) -> None:
    setup = assert_ok(client.post("/v1/auth/2fa/setup", headers=ada.headers,
                                  json={"password": PASSWORD}))
    totp = pyotp.TOTP(setup["secret"])
    enabled = assert_ok(client.post("/v1/auth/2fa/enable", headers=ada.headers,
                                    json={"code": totp.at(clock.now)}))
    assert log.one("two_factor.enabled").details == {"by": "user"}

    def challenge() -> str:
        return assert_ok(login(client))["challenge_token"]

    wrong = f"{(int(totp.at(clock.now)) + 1) % 1000000:06d}"
    assert_error(client.post("/v1/auth/2fa/verify", json={"challenge_token": challenge(),
                                                          "code": wrong}),
                 88, "auth.totp.invalid")
    assert log.one("second_factor.failed").details == {"during": "sign_in"}
    clock.step()
    assert_ok(client.post("/v1/auth/2fa/verify", json={"challenge_token": challenge(),
                                                       "code": totp.at(clock.now)}))
    assert log.one("sign_in.succeeded").details == {"method": "totp"}
    signed = assert_ok(client.post("/v1/auth/2fa/verify", json={
        "challenge_token": challenge(), "code": enabled["recovery_codes"][0]}))
    assert log.kinds() == ["recovery_code.used", "sign_in.succeeded"]
    assert_error(client.post("/v1/auth/2fa/disable", headers=bearer(signed["access_token"]),
                             json={"password": PASSWORD, "code": wrong}),
                 88, "auth.totp.invalid")
    assert log.one("second_factor.failed").details == {"during": "2fa_disable"}
    clock.step()
    plain = assert_ok(client.post("/v1/auth/2fa/disable",
                                  headers=bearer(signed["access_token"]),
                                  json={"password": PASSWORD, "code": totp.at(clock.now)}))
    assert log.one("two_factor.disabled").details == {"by": "user"}
    assert plain["access_token"]


def test_admin_actions_are_recorded(client: FlaskClient, ada: Account, log: Log,
                                    runner: FlaskCliRunner) -> None:
    assert runner.invoke(args=["users", "revoke-sessions", "ada"]).exit_code == 0
    event = log.one("session.revoked")
    assert event.details == {"by": "admin", "sessions": 1}
    assert event.client_address is None and event.user_agent is None
    result = runner.invoke(args=["users", "reset-password", "ada", "--password",
                                 "another good passphrase"])
    assert result.exit_code == 0, result.output
    assert log.one("password.reset").details == {"by": "admin"}


def test_the_owner_reads_events_newest_first_a_page_at_a_time(
        client: FlaskClient, ada: Account, bob: Account) -> None:
    for _ in range(4):
        assert_error(login(client, "wrong password"), 22, "auth.password.mismatch")
    everything = events(client, ada.access_token)
    assert [e["kind"] for e in everything] == ["sign_in.failed"] * 4 + ["sign_in.succeeded"]
    assert [e["id"] for e in everything] == sorted((e["id"] for e in everything), reverse=True)
    assert set(everything[0]) == {"id", "kind", "created_at", "client_address",
                                  "user_agent", "session_id", "details"}
    assert everything[0]["created_at"].endswith("+00:00")
    pages, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        resp = client.get("/v1/users/me/events", headers=ada.headers, query_string=params)
        pages.append([e["id"] for e in assert_ok(resp)])
        cursor = resp.get_json()["pagination"]["next_cursor"]
        if not cursor:
            break
    assert sum(pages, []) == [e["id"] for e in everything]
    assert [len(p) for p in pages] == [2, 2, 1]
    # bob sees only his own
    assert [e["kind"] for e in events(client, bob.access_token)] == ["sign_in.succeeded"]
    for bad in ("nope", "dTox", "ZTotMQ"):
        meta = assert_error(client.get("/v1/users/me/events", headers=ada.headers,
                                       query_string={"cursor": bad}),
                            88, "request.query.invalid_cursor")
        assert list(meta["fields"]) == ["cursor"]
    assert_error(client.get("/v1/users/me/events", headers=ada.headers,
                            query_string={"limit": 0}), 88, "request.param.invalid")
    assert_error(client.get("/v1/users/me/events"), 99, "auth.token.missing")


def test_users_events_cli(client: FlaskClient, ada: Account, runner: FlaskCliRunner) -> None:
    assert_error(login(client, "wrong password"), 22, "auth.password.mismatch")
    result = runner.invoke(args=["users", "events", "ada", "--limit", "1"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].split("\t")[1:3] == ["sign_in.failed", "127.0.0.1"]
    assert '{"reason": "wrong_password"}' in lines[0] and AGENT in lines[0]
    result = runner.invoke(args=["users", "events", "ada"])
    assert [line.split("\t")[1] for line in result.output.strip().splitlines()] == [
        "sign_in.failed", "sign_in.succeeded"]
    result = runner.invoke(args=["users", "events", "nobody"])
    assert result.exit_code != 0 and "user.fetch.not_found" in result.output


def test_a_failing_event_write_never_fails_the_request(
        client: FlaskClient, ada: Account, monkeypatch: pytest.MonkeyPatch,
        api_log: pytest.LogCaptureFixture) -> None:
    from api.events import service

    # the failure event's own transaction fails: the request still answers 22
    monkeypatch.setattr(service, "client_address", lambda: "x" * 10_000)
    with client.application.app_context():
        if db.engine.dialect.name == "sqlite":  # SQLite does not enforce lengths
            monkeypatch.setattr(service, "user_agent", lambda: object())
    assert_error(login(client, "wrong password"), 22, "auth.password.mismatch")
    assert any("security event sign_in.failed" in r.getMessage() and
               r.levelno == logging.WARNING for r in api_log.records)
    # an unknown kind (a bug) is logged and dropped, never raised
    with client.application.test_request_context():
        service.record_event("no.such.kind", ada.id)
    assert "unknown security event kind" in api_log.text


def test_every_kind_is_short_enough_for_its_column() -> None:
    assert all(len(kind) <= SecurityEvent.__table__.c.kind.type.length for kind in KINDS)
