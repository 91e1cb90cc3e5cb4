"""The courier: retries with backoff kept in the row, gives up with an error
logged, claims each row once, and the settings it is started with."""
from __future__ import annotations

import logging
import os
import time
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from api.extensions import db
from api.mail.courier import Courier
from api.mail.models import MailMessage
from api.mail.transport import parse_mail_url
from config import ConfigError, get_config
from tests.conftest import drop_schema, make_app, stamp_head
from tests.helpers import PASSWORD, assert_ok
from tests.mail.mailbox import MemoryTransport


def sign_up(client, name="ada"):
    return assert_ok(client.post("/v1/auth/register", json={
        "username": name, "email": f"{name}@example.com", "password": PASSWORD}))


def row(app) -> MailMessage:
    with app.app_context():
        found = db.session.scalars(select(MailMessage).order_by(MailMessage.id)).first()
        db.session.expunge_all()
        return found


@pytest.mark.parametrize("settings", [{"MAIL_RETRY_BASE": 30, "MAIL_MAX_ATTEMPTS": 3}])
def test_failures_back_off_then_give_up_with_an_error(app, client, transport, deliver,
                                                      utc_clock, api_log):
    sign_up(client)
    transport.fail = True
    assert deliver() == []
    first = row(app)
    assert (first.status, first.attempts) == ("pending", 1)
    wait = (first.next_attempt_at - utc_clock.now).total_seconds()
    assert 27 <= wait <= 30
    assert deliver() == []  # not due yet
    assert row(app).attempts == 1
    utc_clock.advance(seconds=31)
    deliver()
    second = row(app)
    assert second.attempts == 2
    assert 54 <= (second.next_attempt_at - utc_clock.now).total_seconds() <= 60
    utc_clock.advance(seconds=61)
    deliver()
    assert (row(app).status, row(app).attempts) == ("failed", 3)
    errors = [r for r in api_log.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "given up after 3 attempts" in errors[0].getMessage()
    assert "ada@example.com" not in api_log.text and "token=" not in api_log.text


def test_a_message_is_sent_once_it_is_back(app, client, transport, deliver, utc_clock):
    sign_up(client)
    transport.fail = True
    deliver()
    transport.fail = False
    assert deliver() == []  # waits for its time
    utc_clock.advance(seconds=31)
    [mail] = deliver()
    assert mail.to == "ada@example.com"
    assert deliver() == []
    assert row(app).status == "sent" and row(app).params is None


def test_two_couriers_never_claim_one_row(app, client):
    sign_up(client)
    one, two = Courier(app, MemoryTransport()), Courier(app, MemoryTransport())
    with app.app_context():
        claimed = one.claim()
        assert claimed is not None
        assert two.claim() is None
        # the first courier died: its lease lapses, then another takes it
        db.session.execute(update(MailMessage).values(
            lease_until=MailMessage.lease_until - timedelta(hours=1)))
        db.session.commit()
        assert two.claim() == claimed
        # and the dead one's late "sent" does not count
        one._finish(claimed, "sent")
        assert db.session.get(MailMessage, claimed).status == "pending"
        two.deliver(claimed)
        db.session.expire_all()
        assert db.session.get(MailMessage, claimed).status == "sent"
    assert len(two.transport.sent) == 1 and one.transport.sent == []


def test_one_claim_takes_exactly_one_row(app, client):
    """Regression: on PostgreSQL, "id IN (SELECT … LIMIT 1 FOR UPDATE SKIP
    LOCKED)" was rerun per scanned row and claimed every due row at once,
    leaving all but one stranded until their lease lapsed."""
    for name in ("ada", "bob", "cyd", "dan"):
        sign_up(client, name)
    courier = Courier(app, MemoryTransport())
    with app.app_context():
        claimed = courier.claim()
        held = db.session.scalars(select(MailMessage.id)
                                  .where(MailMessage.claimed_by.is_not(None))).all()
    assert held == [claimed]


def test_the_embedded_thread_delivers_after_commit_and_stops(tmp_path):
    """A thread of its own needs a database it can share: a file, not memory."""
    url = os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path}/courier.db"
    app = make_app(SQLALCHEMY_DATABASE_URI=url, MAIL_POLL_INTERVAL=60,
                   MAIL_COURIER="embedded")
    with app.app_context():
        db.drop_all()
        db.create_all()
        stamp_head()
    memory = MemoryTransport()
    courier = app.extensions["gatehouse.courier"]
    courier.transport = memory
    assert not courier.running()  # started by the first request that queues mail
    try:
        sign_up(app.test_client())
        deadline = time.monotonic() + 5  # the poll is 60 s: only the commit wakes it
        while not memory.sent and time.monotonic() < deadline:
            time.sleep(0.02)
        assert [m.to for m in memory.sent] == ["ada@example.com"]
    finally:
        courier.stop(timeout=5)
        with app.app_context():
            drop_schema()
    assert not courier.running()


def test_development_without_mail_url_writes_eml_and_logs_the_link(app, client, tmp_path,
                                                                   api_log):
    from api.mail.transport import FileTransport

    app.extensions["gatehouse.courier"].transport = FileTransport(tmp_path / "mail")
    sign_up(client)
    with app.app_context():
        app.extensions["gatehouse.courier"].deliver_due()
    [eml] = list((tmp_path / "mail").glob("*.eml"))
    from tests.mail.mailbox import parse
    mail = parse(eml.read_bytes())
    assert mail.to == "ada@example.com"
    assert mail.link in api_log.text  # development only: the file transport logs it


# --- settings -------------------------------------------------------------------------

@pytest.mark.parametrize("url,fields", [
    ("smtps://u%40x:p%3Aw@mail.example.com", (True, "mail.example.com", 465, "u@x", "p:w",
                                              "auto")),
    ("smtp://mail.example.com", (False, "mail.example.com", 587, None, None, "auto")),
    ("smtp://a:b@127.0.0.1:2525?starttls=required", (False, "127.0.0.1", 2525, "a", "b",
                                                     "required")),
])
def test_mail_url_is_parsed(url, fields):
    s = parse_mail_url(url)
    assert (s.implicit_tls, s.host, s.port, s.username, s.password, s.starttls) == fields
    assert "b" != repr(s) and (s.password or "~") not in repr(s)


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://h?x=1",
                                 "smtp://h?starttls=maybe", "smtps://h?starttls=required",
                                 "smtp://h:99999"])
def test_a_bad_mail_url_stops_start_up_without_echoing_it(monkeypatch, url):
    monkeypatch.setenv("MAIL_URL", url.replace("//", "//user:hunter2@", 1)
                       if "//" in url and url.split("//")[1] else url)
    with pytest.raises(ConfigError) as info:
        get_config("development")
    assert "hunter2" not in str(info.value)


def test_production_needs_mail_or_says_it_has_none(monkeypatch):
    from tests.test_config import STRONG, TOTP_KEY

    monkeypatch.setenv("SECRET_KEY", STRONG)
    monkeypatch.setenv("TOTP_ENCRYPTION_KEYS", TOTP_KEY)
    monkeypatch.delenv("MAIL_URL", raising=False)
    with pytest.raises(ConfigError, match="^MAIL_URL must be set in production"):
        get_config("production")
    monkeypatch.setenv("MAIL_URL", "smtp://mail.example.com")
    with pytest.raises(ConfigError, match="^MAIL_FROM must be set"):
        get_config("production")
    monkeypatch.setenv("MAIL_FROM", "Accounts <a@example.com>")
    with pytest.raises(ConfigError, match="^PUBLIC_URL or ACCOUNT_URL"):
        get_config("production")
    monkeypatch.setenv("ACCOUNT_URL", "https://app.example.com/account/")
    assert get_config("production")["ACCOUNT_URL"] == "https://app.example.com/account"
    monkeypatch.delenv("MAIL_URL")
    monkeypatch.setenv("MAIL_ENABLED", "false")
    assert get_config("production")["MAIL_ENABLED"] is False
    monkeypatch.setenv("REQUIRE_VERIFIED_EMAIL", "true")
    with pytest.raises(ConfigError, match="^REQUIRE_VERIFIED_EMAIL=true needs mail"):
        get_config("production")


@pytest.mark.parametrize("name,value", [("MAIL_COURIER", "sometimes"),
                                        ("MAIL_MAX_ATTEMPTS", "0"),
                                        ("ACCOUNT_URL", "app.example.com"),
                                        ("MAIL_FROM", "nobody")])
def test_bad_mail_settings_stop_start_up(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=name):
        get_config("development")


def test_links_follow_account_url(app, client, transport, deliver):
    app.config["ACCOUNT_URL"] = "https://app.example.com/my-account"
    sign_up(client)
    [mail] = deliver()
    assert mail.link.startswith("https://app.example.com/my-account/verify?token=")
