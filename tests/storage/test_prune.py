"""Retention: `flask maintenance prune`, the automatic prune, and tables that
stay bounded under steady use (SQLite; PostgreSQL when TEST_DATABASE_URL
names it, as the `app` fixture then runs on it)."""
from __future__ import annotations

import os
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import func, insert, select

from api.auth.models import AuthSession, LoginChallenge, RecoveryCode
from api.events.models import SecurityEvent
from api.extensions import db
from api.maintenance import PRUNABLE, _Schedule, prune
from api.users.models import User, utcnow
from tests.conftest import make_app
from tests.helpers import (
    PASSWORD, Account, Clock, UtcClock, assert_error, assert_ok, bearer, me, refresh)

DAY = 86400


def counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        found = {item.name: db.session.scalar(select(func.count()).select_from(item.table))
                 for item in PRUNABLE}
        db.session.rollback()
        return found


def add_session(user_id: int, *, expires: datetime, revoked: datetime | None = None,
                created: datetime | None = None) -> str:
    sid = uuid.uuid4().hex
    db.session.add(AuthSession(id=sid, user_id=user_id, refresh_hash="x" * 64,
                               refresh_generation=0, created_at=created or expires,
                               last_used_at=created or expires, expires_at=expires,
                               revoked_at=revoked))
    return sid


def test_prune_deletes_only_what_is_dead(app: Flask, client: FlaskClient, ada: Account,
                                         runner: FlaskCliRunner) -> None:
    app.config.update(SESSION_PRUNE_GRACE=7 * DAY, EVENT_RETENTION_DAYS=90)
    now = utcnow()
    with app.app_context():
        kept = [add_session(ada.id, expires=now + timedelta(days=1)),  # live
                add_session(ada.id, expires=now - timedelta(days=6)),  # within the grace
                add_session(ada.id, expires=now + timedelta(days=1),
                            revoked=now - timedelta(days=6))]
        gone = [add_session(ada.id, expires=now - timedelta(days=8)),
                add_session(ada.id, expires=now + timedelta(days=1),
                            revoked=now - timedelta(days=8))]
        for expires, consumed in ((now + timedelta(minutes=5), None),   # kept
                                  (now - timedelta(seconds=1), None),   # expired
                                  (now + timedelta(minutes=5), now)):   # spent
            db.session.add(LoginChallenge(id=uuid.uuid4().hex, user_id=ada.id, attempts=0,
                                          expires_at=expires, consumed_at=consumed))
        db.session.add_all([RecoveryCode(user_id=ada.id, code_hash="a" * 64),
                            RecoveryCode(user_id=ada.id, code_hash="b" * 64, used_at=now)])
        db.session.add_all([
            SecurityEvent(user_id=ada.id, kind="logout", created_at=now - timedelta(days=91)),
            SecurityEvent(user_id=ada.id, kind="logout", created_at=now - timedelta(days=89))])
        db.session.commit()
    before = counts(app)
    result = runner.invoke(args=["maintenance", "prune", "--batch-size", "1"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0].startswith("database: ")
    reported = dict(line.split(": deleted ") for line in result.output.splitlines()[1:])
    assert list(reported) == [item.name for item in PRUNABLE]
    mine = {"auth_sessions": 2, "login_challenges": 2, "recovery_codes": 1,
            "security_events": 1}
    assert {k: int(reported[k]) for k in mine} == mine
    after = counts(app)
    assert {k: before[k] - after[k] for k in mine} == mine
    with app.app_context():
        left = set(db.session.scalars(select(AuthSession.id)))
    assert set(kept) <= left and not set(gone) & left
    assert_ok(me(client, ada.access_token))  # the fixture's live session is untouched
    assert_ok(refresh(client, ada.refresh_token))
    # nothing left to do: a second run deletes nothing
    result = runner.invoke(args=["maintenance", "prune"])
    assert all(line.endswith(" 0") for line in result.output.splitlines()[1:])


def test_a_pruned_session_answers_as_an_ended_one(client: FlaskClient, ada: Account,
                                                  utc_clock: UtcClock) -> None:
    app = client.application
    app.config.update(SESSION_PRUNE_GRACE=0)
    assert_ok(client.post("/v1/auth/logout", headers=ada.headers))
    utc_clock.advance(seconds=1)
    with app.app_context():
        assert prune(app.config)["auth_sessions"] == 1
    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")
    assert_error(refresh(client, ada.refresh_token), 99, "auth.refresh.invalid")


def test_twenty_thousand_dead_rows_go_in_batches(app: Flask, client: FlaskClient,
                                                 ada: Account) -> None:
    """The smoke of bench/prune.py (a million rows, a login's wait measured)."""
    old = utcnow() - timedelta(days=100)
    rows = [{"id": uuid.uuid4().hex, "user_id": ada.id, "refresh_hash": "x" * 64,
             "refresh_generation": 0, "two_factor": False, "created_at": old,
             "last_used_at": old, "expires_at": old} for _ in range(20_000)]
    with app.app_context():
        db.session.execute(insert(AuthSession), rows)
        db.session.commit()
        batches = []
        original = db.session.commit

        def counting_commit() -> None:
            batches.append(1)
            original()

        db.session.commit = counting_commit  # type: ignore[method-assign]
        try:
            deleted = prune(app.config, batch_size=1000)["auth_sessions"]
        finally:
            del db.session.commit
    assert deleted == 20_000
    # at least 21 batches for the sessions (more if the machine is slow: they
    # shrink), one for each other table
    assert len(batches) >= 21 + len(PRUNABLE) - 1
    assert counts(app)["auth_sessions"] == 1
    assert_ok(me(client, ada.access_token))


def test_the_service_prunes_by_itself_at_most_once_an_interval(app: Flask) -> None:
    auto = make_app(PRUNE_INTERVAL=3600, SQLALCHEMY_DATABASE_URI=app.config[
        "SQLALCHEMY_DATABASE_URI"])
    if auto.config["SQLALCHEMY_DATABASE_URI"] == "sqlite://":  # one in-memory database
        auto = app
        from api.maintenance import init_pruning
        app.config["PRUNE_INTERVAL"] = 3600
        init_pruning(app)
    schedule: _Schedule = auto.extensions["gatehouse.prune"]
    assert 0 <= schedule.due - time.monotonic() <= 3600
    with auto.app_context():
        user = User(password_hash="x")
        user.set_username("carol")
        user.set_email("carol@example.com")
        db.session.add(user)
        db.session.commit()
        user_id = user.id
        old = utcnow() - timedelta(days=100)
        for _ in range(3):
            add_session(user_id, expires=old)
        db.session.commit()
    client = auto.test_client()
    client.get("/health/live").close()  # not due yet: nothing pruned
    assert counts(auto)["auth_sessions"] == 3
    schedule.due = 0  # as if the interval had passed
    client.get("/health/live").close()
    assert counts(auto)["auth_sessions"] == 0
    assert schedule.due > 0  # the next pass is an interval away
    assert not schedule.claim()


def test_each_process_starts_a_schedule_of_its_own() -> None:
    """gunicorn forks its workers (and, later, recycled ones) from the
    process that built the app: a child that inherited a schedule whose
    point had passed pruned on its first request, every worker at once."""
    schedule = _Schedule(3600)
    schedule.due = 0  # the parent's point has passed
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover (runs in the child; its answer is asserted below)
        try:
            ahead = schedule.due - time.monotonic()
            os.write(write, b"1" if 0 <= ahead <= 3600 and not schedule.claim() else b"0")
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read, "rb") as answer:
        assert answer.read() == b"1"
    assert schedule.due == 0  # the parent's own schedule is its own


def test_schedule_claims_once_per_interval() -> None:
    schedule = _Schedule(60)
    schedule.due = 0
    assert schedule.claim()
    assert not schedule.claim()
    schedule.due = 0
    assert schedule.claim()


def test_a_simulated_week_keeps_every_table_bounded(
        client: FlaskClient, clock: Clock, utc_clock: UtcClock) -> None:
    """Sign-ins (plain and 2FA, some abandoned), daily refreshes, logouts,
    wrong passwords and expiries for a week, the prune running every six
    simulated hours: after the first days every table levels off."""
    app = client.application
    app.config.update(REFRESH_TOKEN_TTL=DAY, SESSION_MAX_AGE=2 * DAY,
                      SESSION_PRUNE_GRACE=DAY // 2, EVENT_RETENTION_DAYS=2,
                      CHALLENGE_TOKEN_TTL=300)
    names = [f"user{i}" for i in range(4)]
    for name in names:
        assert_ok(client.post("/v1/auth/register", json={
            "username": name, "email": f"{name}@example.com", "password": PASSWORD}))
    # one 2FA account: its sign-ins leave challenges (and use recovery codes)
    tokens = assert_ok(client.post("/v1/auth/login",
                                   json={"login": names[0], "password": PASSWORD}))
    setup = assert_ok(client.post("/v1/auth/2fa/setup", headers=bearer(tokens["access_token"]),
                                  json={"password": PASSWORD}))
    totp = pyotp.TOTP(setup["secret"])
    codes = assert_ok(client.post("/v1/auth/2fa/enable",
                                  headers=bearer(tokens["access_token"]),
                                  json={"code": totp.at(clock.now)}))["recovery_codes"]
    live: list[dict[str, Any]] = []
    daily: list[dict[str, int]] = []
    for step in range(7 * 4):  # six-hour steps
        utc_clock.advance(hours=6)
        clock.step(6 * 120)
        for name in names[1:]:
            live.append(assert_ok(client.post("/v1/auth/login",
                                              json={"login": name, "password": PASSWORD})))
            client.post("/v1/auth/login", json={"login": name, "password": "wrong one!"})
        challenge = assert_ok(client.post("/v1/auth/login", json={
            "login": names[0], "password": PASSWORD}))["challenge_token"]
        if step % 2:  # every other 2FA sign-in is completed, alternately by a recovery code
            code = codes.pop() if step % 4 == 1 and codes else totp.at(clock.now)
            assert_ok(client.post("/v1/auth/2fa/verify",
                                  json={"challenge_token": challenge, "code": code}))
        # the newest sessions refresh; some log out; the rest just expire
        kept = []
        for n, pair in enumerate(live[-6:]):
            resp = refresh(client, pair["refresh_token"])
            if resp.status_code != 200:
                continue
            pair = resp.get_json()["data"]
            if n == 0:
                client.post("/v1/auth/logout", headers=bearer(pair["access_token"]))
            else:
                kept.append(pair)
        live = kept
        with app.app_context():
            prune(app.config)
        if step % 4 == 3:
            daily.append(counts(app))
    week = {name: [day[name] for day in daily] for name in daily[0]}
    print("rows per table at the end of each day:", week)
    # the tables sessions and sign-ins fill (the mail outbox holds what no
    # courier sent in-process here: its own tests cover its retention)
    for name in ("auth_sessions", "login_challenges", "recovery_codes", "security_events"):
        per_day = week[name]
        # level after the second day: no table keeps growing
        assert max(per_day[3:]) <= max(per_day[:3]) + 3, (name, per_day)
    assert max(week["auth_sessions"]) <= 40
    assert max(week["security_events"]) <= 3 * 70  # two days' events and a bit
    assert max(week["login_challenges"]) <= 2


def test_slow_batches_shrink(app: Flask, ada: Account, monkeypatch: Any) -> None:
    """A batch slower than BATCH_SECONDS halves the next (down to MIN_BATCH),
    so a slow disk shortens each transaction instead of lengthening it."""
    from api import maintenance

    monkeypatch.setattr(maintenance, "BATCH_SECONDS", 0.0)  # every batch is "slow"
    old = utcnow() - timedelta(days=100)
    sizes: list[int] = []
    with app.app_context():
        db.session.execute(insert(AuthSession), [
            {"id": uuid.uuid4().hex, "user_id": ada.id, "refresh_hash": "x",
             "refresh_generation": 0, "two_factor": False, "created_at": old,
             "last_used_at": old, "expires_at": old} for _ in range(2000)])
        db.session.commit()
        execute = db.session.execute

        def counting(statement: Any, *args: Any, **kwargs: Any) -> Any:
            result = execute(statement, *args, **kwargs)
            if getattr(statement, "is_delete", False):
                sizes.append(result.rowcount)
            return result

        monkeypatch.setattr(db.session, "execute", counting)
        sessions = next(item for item in PRUNABLE if item.name == "auth_sessions")
        assert maintenance.prune_table(sessions, app.config, batch_size=1000) == 2000
    assert sizes == [1000, 500, 250, 125, 62, 50, 13]
