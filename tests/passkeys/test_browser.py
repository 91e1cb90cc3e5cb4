"""Passkeys end to end: Debian's Chromium (driven by Playwright, no downloaded
browser) with its own virtual authenticator (the DevTools protocol's
WebAuthn domain), on the page the service serves, through gunicorn.

Register a passkey on the page after a password sign-in, sign out, sign in
with the passkey alone, and answer a password login's second factor with
it: each time the page shows the `2f.` token (a passkey turns 2FA on).
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests import server as servers
from tests.helpers import PASSWORD
from tests.server import migrate, running, server_env

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--host-resolver-rules=MAP localhost 127.0.0.1, MAP * ~NOTFOUND"]


def _require_browser() -> None:
    missing = []
    if CHROMIUM is None:
        missing.append("chromium (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -r tests/requirements.txt)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail("not installed: " + ", ".join(missing) + " (.ci/run installs them)")
        pytest.skip("not installed: " + ", ".join(missing))


def test_register_sign_out_and_sign_in_with_the_passkey(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _require_browser()
    from playwright.sync_api import expect, sync_playwright

    port = servers.free_port()
    monkeypatch.setattr(servers, "free_port", lambda: port)
    origin = f"http://localhost:{port}"
    env = server_env(f"sqlite:///{tmp_path}/passkeys.db", WEBAUTHN_RP_ID="localhost",
                     WEBAUTHN_ORIGINS=origin)
    migrate(env)
    for server in running(env, workers=2):
        status, _, _ = server.call("POST", "/v1/auth/register", {
            "username": "ada", "email": "ada@example.com", "password": PASSWORD})
        assert status == 200
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                page = browser.new_page()
                cdp = page.context.new_cdp_session(page)
                cdp.send("WebAuthn.enable")
                authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
                    "protocol": "ctap2", "transport": "internal", "hasResidentKey": True,
                    "hasUserVerification": True, "isUserVerified": True,
                    "automaticPresenceSimulation": True}})["authenticatorId"]
                page.goto(origin + "/account/passkeys")
                status_line = page.locator("#status")

                # a password sign-in: a plain token, no passkey yet
                page.fill("#login", "ada")
                page.fill("#password", PASSWORD)
                page.click("#password-signin")
                expect(page.locator("#signed-in")).to_be_visible()
                expect(page.locator("body")).to_have_attribute("data-token", "plain")

                # register: the first passkey turns 2FA on, the page holds a 2f. pair
                page.click("#add-passkey")
                expect(status_line).to_contain_text("Passkey added")
                expect(page.locator("body")).to_have_attribute("data-token", "2f")
                expect(page.locator("#token-prefix")).to_have_text("2f.")
                expect(page.locator("#passkeys li")).to_have_count(1)
                stored = cdp.send("WebAuthn.getCredentials",
                                  {"authenticatorId": authenticator})["credentials"]
                assert len(stored) == 1 and stored[0]["isResidentCredential"]

                # sign out, then in with the passkey alone
                page.click("#sign-out")
                expect(page.locator("#signed-out")).to_be_visible()
                page.click("#passkey-signin")
                expect(status_line).to_have_text("Signed in with a passkey.")
                expect(page.locator("#token-prefix")).to_have_text("2f.")
                shot = tmp_path / "passkeys.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                if os.environ.get("PASSKEYS_SCREENSHOT"):
                    shutil.copy(shot, os.environ["PASSKEYS_SCREENSHOT"])

                # a password login asks for the second factor; the passkey answers it
                page.click("#sign-out")
                page.fill("#password", PASSWORD)
                page.click("#password-signin")
                expect(page.locator("#second-factor")).to_be_visible()
                page.click("#second-factor-passkey")
                expect(status_line).to_have_text("Signed in with a password and a passkey.")
                expect(page.locator("#token-prefix")).to_have_text("2f.")
                count = cdp.send("WebAuthn.getCredentials",
                                 {"authenticatorId": authenticator})["credentials"][0]
                assert count["signCount"] >= 2
            finally:
                browser.close()
