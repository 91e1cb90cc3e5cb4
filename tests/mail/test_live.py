"""Mail end to end: gunicorn (the courier embedded in its workers) and a
real SMTP server on loopback (aiosmtpd).

- sign-up → mail → verify; forgot → mail → reset → old sessions dead, 2FA
  still asked; email change → confirm → the old address told; every notice
  once, in the account's language;
- SMTP down while users reset: all delivered once it is back, none twice,
  none lost across a restart of the service;
- two services sharing PostgreSQL deliver each message exactly once;
- "forgot" takes as long for an unknown address as for a known one.
"""
from __future__ import annotations

import statistics
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import pyotp
import pytest

from tests.mail.smtp import SmtpServer
from tests.server import NOT_PG, ON_PG, fresh_database, migrate, server_env
from tests.server import running as _running

running = contextmanager(_running)

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
NEW = "a completely new passphrase"


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


@pytest.fixture
def database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, "mail") as url:
        migrate(server_env(url))
        yield url


def mail_env(url: str, smtp: SmtpServer, **extra: str) -> dict[str, str]:
    return server_env(url, MAIL_URL=smtp.url, MAIL_RETRY_BASE="1", MAIL_RETRY_MAX="2",
                      MAIL_POLL_INTERVAL="1", MAIL_TIMEOUT="3", **extra)


def ok(server: Any, method: str, path: str, body: Any = None, token: str | None = None,
       lang: str | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if lang:
        headers["Accept-Language"] = lang
    status, _, answer = server.call(method, path, body, headers)
    assert status == 200, answer
    return answer["data"]


def reason(server: Any, method: str, path: str, body: Any = None,
           token: str | None = None) -> str:
    _, _, answer = server.call(method, path, body,
                               {"Authorization": f"Bearer {token}"} if token else {})
    return answer["meta"]["reason"]


def sign_up(server: Any, name: str, lang: str | None = None) -> None:
    ok(server, "POST", "/v1/auth/register", {"username": name, "email": f"{name}@example.com",
                                             "password": PASSWORD}, lang=lang)


def log_in(server: Any, name: str, password: str = PASSWORD) -> dict[str, Any]:
    return ok(server, "POST", "/v1/auth/login", {"login": name, "password": password})


def test_the_account_lifecycle_by_real_mail(database: str, smtp: SmtpServer) -> None:
    inbox = smtp.inbox
    with running(mail_env(database, smtp)) as server:
        # sign-up → mail → verify (link for one, code for the other)
        sign_up(server, "ada")
        sign_up(server, "lilei", lang="zh-CN")
        [welcome] = inbox.wait_for("ada@example.com")
        ok(server, "POST", "/v1/auth/email/verify", {"token": welcome.token})
        [huanying] = inbox.wait_for("lilei@example.com")
        assert huanying.language == "zh" and "确认" in huanying.subject
        ok(server, "POST", "/v1/auth/email/verify", {"email": "lilei@example.com",
                                                     "code": huanying.code})
        ada = log_in(server, "ada")
        assert ok(server, "GET", "/v1/users/me", token=ada["access_token"])["email_verified"]

        # 2FA on (noticed), then forgot → mail → reset
        secret = ok(server, "POST", "/v1/auth/2fa/setup", {"password": PASSWORD},
                    token=ada["access_token"])["secret"]
        ada = ok(server, "POST", "/v1/auth/2fa/enable", {"code": pyotp.TOTP(secret).now()},
                 token=ada["access_token"])
        ok(server, "POST", "/v1/auth/password/forgot", {"email": "ada@example.com"})
        reset = [m for m in inbox.wait_for("ada@example.com", 3) if "/reset?" in (m.link or "")]
        assert len(reset) == 1
        assert ok(server, "POST", "/v1/auth/password/reset",
                  {"token": reset[0].token, "new_password": NEW})["revoked_sessions"] == 1
        assert reason(server, "GET", "/v1/users/me", token=ada["access_token"]) \
            == "auth.token.revoked"
        assert log_in(server, "ada", NEW)["two_factor_required"] is True

        # email change → confirm → the old address told, in Chinese
        lilei = log_in(server, "lilei")
        assert ok(server, "PATCH", "/v1/users/me", {"email": "lilei@new.example",
                                                    "current_password": PASSWORD},
                  token=lilei["access_token"])["email"] == "lilei@example.com"
        [confirm] = inbox.wait_for("lilei@new.example")
        assert confirm.language == "zh"
        ok(server, "POST", "/v1/auth/email/confirm", {"token": confirm.token})
        notice = inbox.wait_for("lilei@example.com", 2)[-1]
        assert notice.subject == "你账户的邮箱地址已更改" and "lilei@new.example" in notice.text

        time.sleep(2.5)  # a courier's next polls: nothing more may come
    subjects = Counter((m.to, m.subject) for m in inbox.mails)
    assert subjects == {
        ("ada@example.com", "Confirm your email address"): 1,
        ("lilei@example.com", "确认你的邮箱地址"): 1,
        ("ada@example.com", "Two-factor authentication is on"): 1,
        ("ada@example.com", "Reset your password"): 1,
        ("ada@example.com", "Your password was reset"): 1,
        ("lilei@new.example", "确认你的新邮箱地址"): 1,
        ("lilei@example.com", "你账户的邮箱地址已更改"): 1,
    }


def test_smtp_down_during_resets_loses_nothing_and_sends_nothing_twice(
        database: str, smtp: SmtpServer) -> None:
    names = [f"user{i}" for i in range(6)]
    smtp.stop()
    env = mail_env(database, smtp)
    with running(env) as server:
        for name in names:
            sign_up(server, name)
            ok(server, "POST", "/v1/auth/password/forgot", {"email": f"{name}@example.com"})
        time.sleep(3)  # a few failed attempts each, backing off
    # the service restarts while SMTP is still down, then SMTP comes back
    with running(env):
        time.sleep(1)
        smtp.start()
        smtp.inbox.wait(lambda: len(smtp.inbox.mails) >= 2 * len(names), timeout=30)
        time.sleep(3)  # more polls and retries: nothing may come twice
    got = Counter((m.to, m.subject) for m in smtp.inbox.mails)
    assert got == {**{(f"{n}@example.com", "Confirm your email address"): 1 for n in names},
                   **{(f"{n}@example.com", "Reset your password"): 1 for n in names}}


@pytest.mark.skipif(not ON_PG, reason=NOT_PG)
def test_two_services_sharing_postgresql_deliver_each_message_once(
        database: str, smtp: SmtpServer) -> None:
    names = [f"pg{i}" for i in range(12)]
    smtp.stop()  # everything queues first, then every courier of both races for it
    env = mail_env(database, smtp)
    with running(env, workers=2) as one, running(env, workers=2) as two:
        for i, name in enumerate(names):
            sign_up(one if i % 2 else two, name)
        smtp.start()
        smtp.inbox.wait(lambda: len(smtp.inbox.mails) >= len(names), timeout=30)
        time.sleep(3)
    assert Counter(m.to for m in smtp.inbox.mails) == {f"{n}@example.com": 1 for n in names}


def test_forgot_takes_as_long_for_an_unknown_address(database: str, smtp: SmtpServer,
                                                     capsys: pytest.CaptureFixture) -> None:
    tries = 60
    with running(mail_env(database, smtp), workers=1) as server:
        sign_up(server, "ada")
        timings: dict[str, list[float]] = {"known": [], "unknown": []}
        bodies = set()
        for i in range(10):  # warm-up, not measured
            server.call("POST", "/v1/auth/password/forgot", {"email": f"w{i}@example.com"})
        for i in range(tries):
            for kind, email in (("known", "ada@example.com"), ("unknown", f"x{i}@example.com")):
                started = time.perf_counter()
                status, _, answer = server.call("POST", "/v1/auth/password/forgot",
                                                {"email": email})
                timings[kind].append(time.perf_counter() - started)
                assert status == 200
                answer["meta"].pop("request_id", None)
                bodies.add(repr(answer))
    assert len(bodies) == 1  # the same body, byte for byte but the request id
    known, unknown = (statistics.median(timings[k]) * 1000 for k in ("known", "unknown"))
    spread = statistics.quantiles(timings["known"] + timings["unknown"], n=4)
    iqr = (spread[2] - spread[0]) * 1000
    with capsys.disabled():
        print(f"\nforgot-password over {tries} tries each: median known {known:.2f} ms, "
              f"unknown {unknown:.2f} ms (difference {known - unknown:+.2f} ms; "
              f"interquartile range of all {iqr:.2f} ms)")
    # indistinguishable: the medians differ by less than the noise of either
    assert abs(known - unknown) <= max(iqr, 1.0)


def test_the_client_package_walks_every_mail_flow(database: str, smtp: SmtpServer) -> None:
    import sys

    from tests.client.live import CLIENT_DIR

    if str(CLIENT_DIR) not in sys.path:
        sys.path.insert(0, str(CLIENT_DIR))
    from gatehouse_client import GatehouseClient, InvalidParameter

    inbox = smtp.inbox
    with running(mail_env(database, smtp)) as server, GatehouseClient(server.url) as api:
        api.register("grace", "grace@example.com", PASSWORD)
        first = inbox.wait_for("grace@example.com")[0]
        api.resend_verification("grace@example.com")
        second = inbox.wait_for("grace@example.com", 2)[1]
        with pytest.raises(InvalidParameter) as spent:
            api.verify_email(first.token)  # the newer mail voided it
        assert spent.value.reason == "account.token.spent"
        api.verify_email(email="grace@example.com", code=second.code)
        api.forgot_password("grace@example.com")
        reset = inbox.wait_for("grace@example.com", 3)[2]
        assert api.reset_password(reset.token, NEW) == 0
        api.login("grace", NEW)
        assert api.update_me(current_password=NEW, email="grace@new.example")["email"] \
            == "grace@example.com"
        [confirm] = inbox.wait_for("grace@new.example")
        assert api.confirm_email_change(confirm.token) == "grace@new.example"
        assert api.me()["email"] == "grace@new.example"
