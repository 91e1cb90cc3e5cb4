"""The pages mailed links open, in headless Chromium (page JavaScript off)
through gunicorn, with the links taken from mail a real SMTP server received."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.mail.browser import CHROMIUM, Browser
from tests.mail.smtp import SmtpServer
from tests.mail.test_live import NEW, PASSWORD, log_in, ok, sign_up
from tests.server import migrate, server_env
from tests.server import running as _running

pytestmark = pytest.mark.slow
running = contextmanager(_running)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Browser]:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (.ci/run installs it)")
        pytest.skip("chromium not installed (apt-get install chromium)")
    b = Browser(tmp_path / "profile")
    yield b
    b.close()


def test_the_pages_work_in_chromium_without_javascript(tmp_path: Path, browser: Browser) -> None:
    smtp = SmtpServer().start()
    env = server_env(f"sqlite:///{tmp_path}/pages.db", MAIL_URL=smtp.url,
                     MAIL_POLL_INTERVAL="1")
    migrate(env)
    shots = Path(os.environ.get("PAGES_SCREENSHOTS", tmp_path))
    try:
        with running(env, workers=1) as server:
            here = lambda link: link.replace("http://127.0.0.1:8000", server.url)  # noqa: E731
            # verify, in English
            sign_up(server, "ada")
            [mail] = smtp.inbox.wait_for("ada@example.com")
            browser.open(here(mail.link))
            assert "Confirm your email address" in browser.html()
            browser.click("button")
            assert "Your email address is confirmed." in browser.html()
            browser.screenshot(shots / "verify-en.png")

            # reset, in Chinese: a too-short password first, then a good one
            sign_up(server, "lilei", lang="zh-CN")
            smtp.inbox.wait_for("lilei@example.com")
            ok(server, "POST", "/v1/auth/password/forgot", {"email": "lilei@example.com"})
            reset = smtp.inbox.wait_for("lilei@example.com", 2)[-1]
            assert reset.link.endswith("&lang=zh")
            browser.open(here(reset.link))
            assert "设置新密码" in browser.html()
            browser.type_into("#new_password", "short")  # minlength is advisory: the server says
            browser.send("DOM.setAttributeValue", nodeId=browser._node("#new_password"),
                         name="minlength", value="1")
            browser.click("button")
            assert "长度必须在 8 到 128 之间" in browser.html()
            browser.screenshot(shots / "reset-zh-error.png")
            browser.type_into("#new_password", NEW)
            browser.click("button")
            assert "你的密码已设置" in browser.html()
            browser.screenshot(shots / "reset-zh.png")
            log_in(server, "lilei", NEW)

            # confirm an email change; the spent link says so
            ada = log_in(server, "ada")
            ok(server, "PATCH", "/v1/users/me", {"email": "ada@new.example",
                                                 "current_password": PASSWORD},
               token=ada["access_token"])
            [confirm] = smtp.inbox.wait_for("ada@new.example")
            browser.open(here(confirm.link))
            browser.click("button")
            assert "Your account now uses this email address." in browser.html()
            browser.open(here(confirm.link))
            browser.click("button")
            assert "This link was already used" in browser.html()
            browser.screenshot(shots / "confirm-spent-en.png")
            assert ok(server, "GET", "/v1/users/me",
                      token=ada["access_token"])["email"] == "ada@new.example"
    finally:
        smtp.stop()
    for name in ("verify-en.png", "reset-zh.png", "confirm-spent-en.png"):
        assert (shots / name).stat().st_size > 5_000
