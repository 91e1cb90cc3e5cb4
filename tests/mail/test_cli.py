"""`flask users send-reset`, `flask mail courier --once`, `flask mail status`."""
from __future__ import annotations

from tests.helpers import PASSWORD, assert_ok, login

NEW = "an entirely fresh passphrase"


def test_send_reset_mails_a_link_the_admin_never_sees(app, client, runner, deliver):
    assert_ok(client.post("/v1/auth/register", json={
        "username": "ada", "email": "ada@example.com", "password": PASSWORD}))
    deliver()
    result = runner.invoke(args=["users", "send-reset", "ada"])
    assert result.exit_code == 0, result.output
    assert "reset link queued for ada" in result.output
    [mail] = deliver()
    assert mail.token not in result.output and "/account/reset?token=" in mail.link
    assert_ok(client.post("/v1/auth/password/reset",
                          json={"token": mail.token, "new_password": NEW}))
    login(client, password=NEW)


def test_send_reset_for_nobody_is_one_line(runner):
    result = runner.invoke(args=["users", "send-reset", "nobody"])
    assert result.exit_code == 1 and "No user matches 'nobody'" in result.output
    assert "Traceback" not in result.output


def test_send_reset_with_mail_off_says_so(app, runner):
    app.config["MAIL_ENABLED"] = False
    result = runner.invoke(args=["users", "send-reset", "ada"])
    assert result.exit_code == 1 and "mail is turned off" in result.output


def test_admin_created_accounts_get_a_verification_mail(runner, deliver):
    result = runner.invoke(args=["users", "create", "cyd", "cy@example.com",
                                 "--password", PASSWORD])
    assert result.exit_code == 0, result.output
    [mail] = deliver()
    assert mail.to == "cy@example.com" and "/account/verify?token=" in mail.link


def test_courier_once_and_status(app, client, runner, transport):
    assert_ok(client.post("/v1/auth/register", json={
        "username": "ada", "email": "ada@example.com", "password": PASSWORD}))
    assert "pending: 1" in runner.invoke(args=["mail", "status"]).output
    result = runner.invoke(args=["mail", "courier", "--once"])
    assert result.exit_code == 0 and "1 message(s)" in result.output
    assert [m.to for m in transport.sent] == ["ada@example.com"]
    assert "sent: 1" in runner.invoke(args=["mail", "status"]).output
