"""TOTP secrets at rest: encrypted under TOTP_ENCRYPTION_KEYS, keys rotated
without locking anyone out, and a missing key a clear server error."""
from __future__ import annotations

from typing import Iterator

import pyotp
import pytest
from cryptography.fernet import Fernet
from flask import Flask
from sqlalchemy import text

from api.extensions import db
from tests.auth.test_twofactor import challenge, enable_2fa, register_and_login, verify
from tests.conftest import make_app
from tests.helpers import Clock, assert_error, assert_ok, bearer

KEY_A, KEY_B = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def shared_db(tmp_path) -> Iterator[str]:
    """One database that apps with different keys open in turn (a deploy)."""
    import os

    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/keys.db"
    app = make_app(SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        db.drop_all()
        db.create_all()
    yield url
    with app.app_context():
        db.drop_all()


def keyed_app(url: str, *keys: str) -> Flask:
    return make_app(SQLALCHEMY_DATABASE_URI=url, TOTP_ENCRYPTION_KEYS=list(keys))


def stored(app: Flask) -> tuple[str, str | None]:
    with app.app_context():
        row = db.session.execute(text(
            "SELECT totp_secret, totp_pending_secret FROM users")).one()
        db.session.rollback()
    return row[0], row[1]


def test_the_database_holds_no_secret(shared_db: str, clock: Clock) -> None:
    app = keyed_app(shared_db, KEY_A)
    client = app.test_client()
    secret = enable_2fa(client, clock)["secret"]
    sealed, pending = stored(app)
    assert pending is None and secret not in sealed
    assert Fernet(KEY_A).decrypt(sealed.encode()).decode() == secret


def test_rotation_then_the_old_key_dropped(shared_db: str, clock: Clock) -> None:
    old = keyed_app(shared_db, KEY_A)
    secret = enable_2fa(old.test_client(), clock)["secret"]
    # the new key first, the old one still there: nobody is locked out
    both = keyed_app(shared_db, KEY_B, KEY_A)
    client = both.test_client()
    clock.step()
    assert_ok(verify(client, challenge(client), pyotp.TOTP(secret).at(clock.now)))
    result = both.test_cli_runner().invoke(args=["users", "rotate-2fa-key"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 TOTP secret(s)" in result.output
    assert Fernet(KEY_B).decrypt(stored(both)[0].encode()).decode() == secret
    # the old key dropped: the rotated secret still works
    new = keyed_app(shared_db, KEY_B)
    client = new.test_client()
    clock.step()
    assert_ok(verify(client, challenge(client), pyotp.TOTP(secret).at(clock.now)))


def test_a_missing_key_is_a_server_error_without_the_secret(
        shared_db: str, clock: Clock, api_log: pytest.LogCaptureFixture) -> None:
    secret = enable_2fa(keyed_app(shared_db, KEY_A).test_client(), clock)["secret"]
    sealed = stored(keyed_app(shared_db, KEY_A))[0]
    wrong = keyed_app(shared_db, KEY_B)  # KEY_A dropped before any rotation
    client = wrong.test_client()
    clock.step()
    code = pyotp.TOTP(secret).at(clock.now)
    resp = verify(client, challenge(client), code)
    assert_error(resp, 500, "server.internal.error")
    body = resp.get_data(as_text=True)
    assert secret not in body and sealed not in body and code not in body
    logged = "\n".join(r.getMessage() + (r.exc_text or "") for r in api_log.records)
    assert "cannot be decrypted with any key of TOTP_ENCRYPTION_KEYS" in logged
    assert secret not in logged and sealed not in logged
    # the CLI says it in one line, and changes nothing
    result = wrong.test_cli_runner().invoke(args=["users", "rotate-2fa-key"])
    assert result.exit_code == 1
    assert "put back the key it was encrypted with" in result.output
    assert stored(wrong)[0] == sealed


def test_rotation_walks_every_batch(shared_db: str, clock: Clock) -> None:
    from api.auth import twofactor

    old = keyed_app(shared_db, KEY_A)
    client = old.test_client()
    secrets = [enable_2fa(client, clock, name)["secret"] for name in ("ada", "bob")]
    tokens = register_and_login(client, "cyd")  # a setup left pending
    setup = client.post("/v1/auth/2fa/setup", headers=bearer(tokens["access_token"]))
    pending = assert_ok(setup)["secret"]
    both = keyed_app(shared_db, KEY_B, KEY_A)
    with both.app_context():
        assert twofactor.rotate_secret_keys(batch=2) == 3
        rows = db.session.execute(text(
            "SELECT totp_secret, totp_pending_secret FROM users ORDER BY id")).all()
        db.session.rollback()
    box = Fernet(KEY_B)
    assert [box.decrypt(r[0].encode()).decode() for r in rows[:2]] == secrets
    assert rows[2][0] is None and box.decrypt(rows[2][1].encode()).decode() == pending


def test_rotation_never_writes_back_a_secret_changed_meanwhile(
        shared_db: str, clock: Clock, monkeypatch: pytest.MonkeyPatch) -> None:
    """2FA turned off while the rotation runs: the old secret stays gone."""
    from api.auth import totp, twofactor

    old = keyed_app(shared_db, KEY_A)
    client = old.test_client()
    for name in ("ada", "bob"):
        enable_2fa(client, clock, name)
    both = keyed_app(shared_db, KEY_B, KEY_A)
    reseal = totp.reseal

    def turned_off_meanwhile(stored_secret: str) -> str:
        # what `users disable-2fa ada` commits between the read and the write
        db.session.execute(text("UPDATE users SET totp_secret = NULL, totp_enabled = false "
                                "WHERE username = 'ada'"))
        return reseal(stored_secret)

    monkeypatch.setattr(totp, "reseal", turned_off_meanwhile)
    with both.app_context():
        assert twofactor.rotate_secret_keys() == 1  # bob's only
        rows = db.session.execute(text(
            "SELECT username, totp_secret FROM users ORDER BY id")).all()
        db.session.rollback()
    assert rows[0] == ("ada", None)
    assert Fernet(KEY_B).decrypt(rows[1][1].encode())
