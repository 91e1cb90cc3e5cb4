"""The account lifecycle through the API, its mail delivered by the courier in-process."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from api.account.models import AccountToken
from api.extensions import db
from api.mail.models import MailMessage
from tests.helpers import (
    PASSWORD, assert_error, assert_ok, bearer, change_password, login, me)

NEW = "an entirely fresh passphrase"


def register(client, name="ada", lang=None):
    headers = {"Accept-Language": lang} if lang else {}
    return assert_ok(client.post("/v1/auth/register", headers=headers, json={
        "username": name, "email": f"{name}@example.com", "password": PASSWORD}))


# --- verification ------------------------------------------------------------

def test_sign_up_mails_a_link_and_a_code_that_verify(client, deliver):
    user = register(client)
    assert user["email_verified"] is False and user["locale"] == "en"
    [mail] = deliver()
    assert mail.to == "ada@example.com" and mail.language == "en"
    assert mail.link.startswith("http://127.0.0.1:8000/account/verify?token=")
    assert mail.code and mail.code in mail.html
    assert_ok(client.post("/v1/auth/email/verify", json={"token": mail.token}))
    tokens = login(client)
    assert assert_ok(me(client, tokens["access_token"]))["email_verified"] is True
    # the link works once
    assert_error(client.post("/v1/auth/email/verify", json={"token": mail.token}), 88,
                 "account.token.spent")


def test_the_code_verifies_and_five_wrong_ones_void_it(client, deliver):
    register(client)
    [mail] = deliver()
    wrong = "000000" if mail.code != "000000" else "111111"
    for _ in range(5):
        assert_error(client.post("/v1/auth/email/verify", json={
            "email": "ada@example.com", "code": wrong}), 88, "account.code.invalid")
    assert_error(client.post("/v1/auth/email/verify", json={
        "email": "ada@example.com", "code": mail.code}), 88, "account.code.invalid")
    # a new mail, a new code
    assert_ok(client.post("/v1/auth/email/resend", json={"email": "ADA@example.com"}))
    [again] = deliver()
    assert_ok(client.post("/v1/auth/email/verify", json={
        "email": "ada@example.com", "code": again.code}))


def test_verify_body_needs_a_token_or_an_address_and_code(client):
    for body in ({}, {"email": "a@example.com"}, {"token": "x", "code": "123456"}):
        meta = assert_error(client.post("/v1/auth/email/verify", json=body), 88,
                            "request.param.invalid")
        assert meta["fields"]["token"] == ["Give either token, or email and code."]


def test_resend_answers_alike_and_mails_only_an_unverified_account(client, deliver):
    register(client)
    deliver()
    known = client.post("/v1/auth/email/resend", json={"email": "ada@example.com"})
    unknown = client.post("/v1/auth/email/resend", json={"email": "nobody@example.com"})
    assert known.get_json()["data"] == unknown.get_json()["data"] == {"accepted": True}
    assert [m.to for m in deliver()] == ["ada@example.com"]


def test_chinese_sign_up_gets_chinese_mail(client, deliver):
    user = register(client, lang="zh-CN,zh;q=0.9")
    assert user["locale"] == "zh"
    [mail] = deliver()
    assert mail.language == "zh" and "确认" in mail.subject and "确认" in mail.text


@pytest.mark.parametrize("settings", [{"REQUIRE_VERIFIED_EMAIL": True}])
def test_required_verification_refuses_login_with_its_own_reason(client, deliver):
    register(client)
    assert_error(client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}),
                 99, "auth.email.unverified")
    [mail] = deliver()
    assert_ok(client.post("/v1/auth/email/verify", json={"token": mail.token}))
    login(client)


def test_html_escapes_what_a_user_chose(client, deliver, ada):
    deliver()
    assert_ok(client.patch("/v1/users/me", headers=ada.headers,
                           json={"display_name": "<b>x</b>"}))
    change_password(client, ada, new=NEW)
    [notice] = deliver()
    assert "&lt;b&gt;x&lt;/b&gt;" in notice.html and "<b>x</b>" not in notice.html
    assert "<b>x</b>" in notice.text


# --- recovery ----------------------------------------------------------------

def test_forgot_answers_alike_and_mails_only_an_account(client, deliver, ada):
    deliver()
    known = client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    unknown = client.post("/v1/auth/password/forgot", json={"email": "eve@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.get_json()["data"] == unknown.get_json()["data"] == {"accepted": True}
    assert set(known.get_json()) == set(unknown.get_json())
    [mail] = deliver()
    assert mail.to == "ada@example.com" and "/account/reset?token=" in mail.link
    assert len(mail.token) >= 43  # 256 bits, URL-safe


def test_reset_sets_the_password_ends_sessions_and_signs_nobody_in(client, deliver, ada):
    deliver()
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    [mail] = deliver()
    data = assert_ok(client.post("/v1/auth/password/reset",
                                 json={"token": mail.token, "new_password": NEW}))
    assert data == {"password_reset": True, "revoked_sessions": 1}
    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")
    assert_error(client.post("/v1/auth/login", json={"login": "ada", "password": PASSWORD}),
                 22, "auth.password.mismatch")
    login(client, password=NEW)
    assert_error(client.post("/v1/auth/password/reset",
                             json={"token": mail.token, "new_password": NEW + "!"}),
                 88, "account.token.spent")
    [notice] = deliver()
    assert notice.subject == "Your password was reset"
    # only the hash is stored
    with client.application.app_context():
        stored = db.session.scalars(select(AccountToken.token_hash)).all()
    assert mail.token not in stored


def test_reset_refuses_a_common_password(client, deliver, ada):
    deliver()
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    [mail] = deliver()
    assert_error(client.post("/v1/auth/password/reset",
                             json={"token": mail.token, "new_password": "password123"}),
                 88, "user.password.common")


def test_reset_token_invalid_expired_superseded_and_voided(client, deliver, ada, utc_clock):
    deliver()
    assert_error(client.post("/v1/auth/password/reset",
                             json={"token": "x" * 43, "new_password": NEW}),
                 88, "account.token.invalid")
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    [first] = deliver()
    utc_clock.advance(seconds=61)  # past the gap that keeps a mailbox from flooding
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    [second] = deliver()
    assert_error(client.post("/v1/auth/password/reset",
                             json={"token": first.token, "new_password": NEW}),
                 88, "account.token.spent")
    utc_clock.advance(minutes=15, seconds=1)
    assert_error(client.post("/v1/auth/password/reset",
                             json={"token": second.token, "new_password": NEW}),
                 88, "account.token.expired")
    utc_clock.advance(seconds=61)
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    [third] = deliver()
    assert change_password(client, ada, new=NEW).status_code == 200
    assert_error(client.post("/v1/auth/password/reset",
                             json={"token": third.token, "new_password": NEW + "!"}),
                 88, "account.token.spent")


def test_a_second_forgot_within_a_minute_sends_nothing(client, deliver, ada):
    deliver()
    for _ in range(3):
        client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    assert len(deliver()) == 1


def test_reset_leaves_two_factor_on(client, deliver, ada, clock):
    import pyotp

    deliver()
    secret = assert_ok(client.post("/v1/auth/2fa/setup", headers=ada.headers, json={}))["secret"]
    assert_ok(client.post("/v1/auth/2fa/enable", headers=ada.headers,
                          json={"code": pyotp.TOTP(secret).at(clock.now)}))
    [on] = deliver()
    assert on.subject == "Two-factor authentication is on"
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    [mail] = deliver()
    assert_ok(client.post("/v1/auth/password/reset",
                          json={"token": mail.token, "new_password": NEW}))
    assert login(client, password=NEW)["two_factor_required"] is True


# --- email change ---------------------------------------------------------------

def test_email_change_takes_effect_on_confirm_and_notifies_the_old_address(client, deliver,
                                                                           ada):
    deliver()
    data = assert_ok(client.patch("/v1/users/me", headers=ada.headers, json={
        "email": "ada@new.example", "current_password": PASSWORD}))
    assert data["email"] == "ada@example.com"  # not yet
    [confirm] = deliver()
    assert confirm.to == "ada@new.example" and "/account/confirm-email?token=" in confirm.link
    assert assert_ok(me(client, ada.access_token))["email"] == "ada@example.com"
    assert assert_ok(client.post("/v1/auth/email/confirm", json={"token": confirm.token})) \
        == {"email_changed": True, "email": "ada@new.example"}
    account = assert_ok(me(client, ada.access_token))
    assert account["email"] == "ada@new.example" and account["email_verified"] is True
    [notice] = deliver()
    assert notice.to == "ada@example.com" and "ada@new.example" in notice.text
    assert_error(client.post("/v1/auth/email/confirm", json={"token": confirm.token}), 88,
                 "account.token.spent")


def test_email_change_confirm_refuses_an_address_taken_meanwhile(client, deliver, ada):
    deliver()
    client.patch("/v1/users/me", headers=ada.headers,
                 json={"email": "shared@example.com", "current_password": PASSWORD})
    [confirm] = deliver()
    assert_ok(client.post("/v1/auth/register", json={
        "username": "bob", "email": "shared@example.com", "password": PASSWORD}))
    assert_error(client.post("/v1/auth/email/confirm", json={"token": confirm.token}), 88,
                 "user.email.taken")


def test_locale_is_changeable(client, deliver, ada):
    deliver()
    assert assert_ok(client.patch("/v1/users/me", headers=ada.headers,
                                  json={"locale": "zh"}))["locale"] == "zh"
    change_password(client, ada, new=NEW)
    [notice] = deliver()
    assert notice.language == "zh" and notice.subject == "你的密码已更改"
    assert_error(client.patch("/v1/users/me", headers=ada.headers, json={"locale": "fr"}),
                 88, "request.param.invalid")


# --- notices ---------------------------------------------------------------------

def test_recovery_code_use_is_noticed_with_what_is_left(client, deliver, ada, clock):
    import pyotp

    secret = assert_ok(client.post("/v1/auth/2fa/setup", headers=ada.headers, json={}))["secret"]
    codes = assert_ok(client.post("/v1/auth/2fa/enable", headers=ada.headers, json={
        "code": pyotp.TOTP(secret).at(clock.now)}))["recovery_codes"]
    deliver()
    challenge = login(client)["challenge_token"]
    assert_ok(client.post("/v1/auth/2fa/verify",
                          json={"challenge_token": challenge, "code": codes[0]}))
    [notice] = deliver()
    assert notice.subject == "A recovery code was used" and "9 unused codes" in notice.text


def test_a_failed_request_queues_nothing(client, deliver, ada):
    deliver()
    assert change_password(client, ada, current="wrong password!").status_code == 400
    assert deliver() == []


def test_mail_off_queues_nothing(app, client):
    app.config["MAIL_ENABLED"] = False
    register(client)
    with app.app_context():
        assert db.session.scalar(select(MailMessage.id)) is None


def test_unused_bearer_still_works_after_patch_without_email(client, ada):
    assert_ok(client.patch("/v1/users/me", headers=bearer(ada.access_token),
                           json={"display_name": "Ada"}))


def test_expired_token_rows_are_pruned(app, client, deliver, ada, utc_clock):
    from api.maintenance import prune

    deliver()
    client.post("/v1/auth/password/forgot", json={"email": "ada@example.com"})
    deliver()
    utc_clock.advance(days=8)
    with app.app_context():
        counts = prune(app.config)
        assert counts["account_tokens"] >= 1 and counts["mail_outbox"] >= 1
        assert db.session.scalar(select(AccountToken.id)) is None


def test_two_factor_off_and_an_admin_reset_are_noticed(client, runner, deliver, ada, clock):
    import pyotp

    secret = assert_ok(client.post("/v1/auth/2fa/setup", headers=ada.headers, json={}))["secret"]
    tokens = assert_ok(client.post("/v1/auth/2fa/enable", headers=ada.headers,
                                   json={"code": pyotp.TOTP(secret).at(clock.now)}))
    deliver()
    clock.step()
    assert_ok(client.post("/v1/auth/2fa/disable", headers=bearer(tokens["access_token"]),
                          json={"password": PASSWORD, "code": pyotp.TOTP(secret).at(clock.now)}))
    assert [m.subject for m in deliver()] == ["Two-factor authentication is off"]
    result = runner.invoke(args=["users", "reset-password", "ada", "--password", NEW])
    assert result.exit_code == 0, result.output
    assert [m.subject for m in deliver()] == ["Your password was reset"]
