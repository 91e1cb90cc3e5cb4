"""argon2 never runs inside a database transaction.

A request that may write holds SQLite's one write lock from its first query
to its commit (api/db.py). A hash inside it made logins run one at a time, in
every worker, and every other writer wait for them. Each path that hashes or
verifies a password is driven here, and the hasher records whether the
request's session had a transaction open at each call.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterator

import pyotp
import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import delete, update

from api.extensions import db
from api.users.models import User
from tests.conftest import make_app
from tests.helpers import (
    NEW_PASSWORD, PASSWORD, Account, Clock, assert_error, assert_ok, bearer, change_password,
    login, make_account, register)


class HasherSpy:
    """Wraps the app's password hashing (api/auth/passwords.py): records, at
    every hash and verify, whether the calling request had a transaction
    open, and runs `during` (if set) in the middle. It wraps the calls made
    on the request's thread; argon2 itself runs on the hashing pool's."""

    def __init__(self, app: Flask) -> None:
        self.passwords = app.extensions["gatehouse.passwords"]
        self.real: PasswordHasher = self.passwords.hasher
        self._hash, self._verify = self.passwords.hash, self.passwords.verify
        self.calls: list[tuple[str, bool]] = []
        self.during: Callable[[], None] | None = None
        self.passwords.hash, self.passwords.verify = self.hash, self.verify

    def _record(self, name: str) -> None:
        self.calls.append((name, db.session().in_transaction()))
        if self.during is not None:
            during, self.during = self.during, None
            during()

    def hash(self, password: str) -> str:
        self._record("hash")
        return self._hash(password)

    def verify(self, password_hash: str, password: str) -> bool:
        self._record("verify")
        return self._verify(password_hash, password)

    def restore(self) -> None:
        del self.passwords.hash, self.passwords.verify


@pytest.fixture
def spy(app: Flask) -> Iterator[HasherSpy]:
    spy = HasherSpy(app)
    yield spy
    spy.restore()


def assert_outside(spy: HasherSpy, *expected: str) -> None:
    assert [name for name, _ in spy.calls] == list(expected)
    assert [open_ for _, open_ in spy.calls] == [False] * len(expected), spy.calls


def test_register(client: FlaskClient, spy: HasherSpy) -> None:
    register(client, "ada")
    assert_outside(spy, "hash")


def test_login_right_and_wrong_password_and_unknown_user(client: FlaskClient,
                                                         spy: HasherSpy) -> None:
    register(client, "ada")
    spy.calls.clear()
    login(client, "ada")
    assert_error(client.post("/v1/auth/login", json={"login": "ada", "password": "not it!"}),
                 22, "auth.password.mismatch")
    assert_error(client.post("/v1/auth/login", json={"login": "nobody", "password": "x" * 8}),
                 21, "auth.login.unknown_user")
    assert_outside(spy, "verify", "verify", "verify")


def test_login_upgrades_an_old_hash_outside_the_transaction(
        app: Flask, client: FlaskClient, spy: HasherSpy) -> None:
    user_id = register(client, "ada")["id"]
    older = PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1).hash(PASSWORD)
    with app.app_context():
        db.session.execute(update(User).where(User.id == user_id).values(password_hash=older))
        db.session.commit()
    spy.calls.clear()
    login(client, "ada")
    assert_outside(spy, "verify", "hash")
    with app.app_context():
        upgraded = db.session.get(User, user_id).password_hash
    assert upgraded != older and not spy.real.check_needs_rehash(upgraded)
    login(client, "ada")  # the new hash is the same password


def test_change_password(client: FlaskClient, ada: Account, spy: HasherSpy) -> None:
    assert_error(change_password(client, ada, current="not my password"),
                 22, "auth.password.mismatch")
    assert_ok(change_password(client, ada))
    assert_outside(spy, "verify", "verify", "hash")
    login(client, "ada", NEW_PASSWORD)


def test_delete_account(client: FlaskClient, ada: Account, spy: HasherSpy) -> None:
    assert_ok(client.delete("/v1/users/me", headers=ada.headers, json={"password": PASSWORD}))
    assert_outside(spy, "verify")
    assert_error(client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}),
                 21, "auth.login.unknown_user")


def test_disable_2fa(client: FlaskClient, ada: Account, clock: Clock, spy: HasherSpy) -> None:
    setup = assert_ok(client.post("/v1/auth/2fa/setup", headers=ada.headers))
    totp = pyotp.TOTP(setup["secret"])
    enabled = assert_ok(client.post("/v1/auth/2fa/enable", headers=ada.headers,
                                    json={"code": totp.at(clock.now)}))
    clock.step()
    spy.calls.clear()
    assert_ok(client.post("/v1/auth/2fa/disable", headers=bearer(enabled["access_token"]),
                          json={"password": PASSWORD, "code": totp.at(clock.now)}))
    assert_outside(spy, "verify")


def test_reauthentication_and_email_change(client: FlaskClient, ada: Account, clock: Clock,
                                           spy: HasherSpy) -> None:
    """The password checks of 2FA setup/enable and an email change go through
    check_password like every other: outside the transaction, and counted."""
    setup = assert_ok(client.post("/v1/auth/2fa/setup", headers=ada.headers,
                                  json={"password": PASSWORD}))
    assert_error(client.patch("/v1/users/me", headers=ada.headers,
                              json={"email": "new@example.com", "current_password": "nope!"}),
                 22, "auth.password.mismatch")
    assert_ok(client.patch("/v1/users/me", headers=ada.headers,
                           json={"email": "new@example.com", "current_password": PASSWORD}))
    assert_ok(client.post("/v1/auth/2fa/enable", headers=ada.headers, json={
        "code": pyotp.TOTP(setup["secret"]).at(clock.now), "password": PASSWORD}))
    assert_outside(spy, "verify", "verify", "verify", "verify")


def test_cli_create_and_reset_password(client: FlaskClient, runner: FlaskCliRunner,
                                       spy: HasherSpy) -> None:
    result = runner.invoke(args=["users", "create", "root", "root@example.com",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "reset-password", "root", "--password", NEW_PASSWORD])
    assert result.exit_code == 0, result.output
    assert_outside(spy, "hash", "hash")
    login(client, "root", NEW_PASSWORD)


# --- what happens meanwhile ------------------------------------------------------

def _write(statement: Any) -> None:
    """Another request's write, committed while the hash runs."""
    with db.engine.begin() as conn:
        conn.execute(statement)


def test_password_changed_during_the_login_hash_is_22(
        app: Flask, client: FlaskClient, ada: Account, spy: HasherSpy) -> None:
    changed = spy.real.hash(NEW_PASSWORD)
    spy.during = lambda: _write(update(User).where(User.id == ada.id)
                                .values(password_hash=changed))
    # the old password was right when it was read, and is not any more
    assert_error(client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}),
                 22, "auth.password.mismatch")
    login(client, "ada", NEW_PASSWORD)


def test_account_deleted_during_the_password_change_hash_is_22(
        app: Flask, client: FlaskClient, ada: Account, spy: HasherSpy) -> None:
    spy.during = lambda: _write(delete(User).where(User.id == ada.id))
    assert_error(change_password(client, ada), 22, "auth.password.mismatch")
    with app.app_context():
        assert db.session.get(User, ada.id) is None  # nothing was written back


# --- SQLite: the write lock is free while a login hashes ------------------------

@pytest.fixture
def file_app(tmp_path: Path) -> Iterator[Flask]:
    app = make_app(SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/gatehouse.db")
    with app.app_context():
        db.create_all()
    yield app


def test_another_writer_gets_sqlite_lock_during_a_login(file_app: Flask,
                                                        tmp_path: Path) -> None:
    client = file_app.test_client()
    register(client, "ada")
    spy = HasherSpy(file_app)
    taken: list[str] = []

    def other_writer() -> None:
        other = sqlite3.connect(tmp_path / "gatehouse.db", timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" at once if held
            other.execute("ROLLBACK")
            taken.append("lock")
        finally:
            other.close()

    spy.during = other_writer
    login(client, "ada")
    assert taken == ["lock"]
    make_account(client, "bob")  # and the app's own writes go on as before


def test_cli_reset_password_of_an_account_deleted_during_the_hash(
        client: FlaskClient, runner: FlaskCliRunner, ada: Account, spy: HasherSpy) -> None:
    spy.during = lambda: _write(delete(User).where(User.id == ada.id))
    result = runner.invoke(args=["users", "reset-password", "ada", "--password", NEW_PASSWORD])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == "Error: No user has this id. (user.fetch.not_found)"


def test_ending_a_transaction_with_unwritten_changes_is_refused(app: Flask) -> None:
    from api.db import end_read_transaction

    with app.app_context():
        db.session.add(User(password_hash="x"))
        with pytest.raises(RuntimeError, match="not yet written"):
            end_read_transaction()
        assert db.session.new  # nothing was dropped
