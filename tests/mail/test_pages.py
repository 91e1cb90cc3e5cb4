"""The pages mailed links open, through the test client: forms, outcomes, languages, headers."""
from __future__ import annotations

import re

from tests.helpers import PASSWORD, assert_ok, login, me

NEW = "an entirely fresh passphrase"


def sign_up(client, name="ada"):
    assert_ok(client.post("/v1/auth/register", json={
        "username": name, "email": f"{name}@example.com", "password": PASSWORD}))


def path_of(link: str) -> str:
    return link.replace("http://127.0.0.1:8000", "")


def test_get_shows_a_form_and_changes_nothing(client, deliver):
    sign_up(client)
    [mail] = deliver()
    page = client.get(path_of(mail.link))
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert '<form method="post"' in html and mail.token in html
    # no script, no external asset of any kind
    assert "<script" not in html and not re.search(r'(src|href)="https?://', html)
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert page.headers["X-Frame-Options"] == "DENY"
    tokens = login(client)
    assert assert_ok(me(client, tokens["access_token"]))["email_verified"] is False


def test_the_form_verifies_then_says_the_link_is_spent(client, deliver):
    sign_up(client)
    [mail] = deliver()
    done = client.post("/account/verify?lang=en", data={"token": mail.token})
    assert done.status_code == 200 and "Your email address is confirmed." in done.get_data(
        as_text=True)
    again = client.post("/account/verify?lang=zh", data={"token": mail.token})
    assert again.status_code == 400
    assert "该链接已被使用" in again.get_data(as_text=True)
    assert again.headers["Content-Language"] == "zh"


def test_the_reset_form_checks_the_password_then_sets_it(client, deliver):
    sign_up(client)
    deliver()
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    [mail] = deliver()
    short = client.post("/account/reset", data={"token": mail.token, "new_password": "short"})
    assert short.status_code == 400
    assert "Length must be between 8 and 128." in short.get_data(as_text=True)
    common = client.post("/account/reset", data={"token": mail.token,
                                                 "new_password": "password123"})
    assert common.status_code == 400
    done = client.post("/account/reset", data={"token": mail.token, "new_password": NEW})
    assert done.status_code == 200 and "Your password is set." in done.get_data(as_text=True)
    login(client, password=NEW)


def test_a_page_without_its_token_says_so_in_the_asked_language(client):
    for path in ("/account/verify", "/account/reset", "/account/confirm-email"):
        page = client.get(path, headers={"Accept-Language": "zh"})
        assert page.status_code == 400 and "完整链接" in page.get_data(as_text=True)


def test_what_a_link_carries_is_escaped(client):
    page = client.get('/account/verify?token="><script>x</script>')
    html = page.get_data(as_text=True)
    assert "<script>x" not in html and "&lt;script&gt;" in html
