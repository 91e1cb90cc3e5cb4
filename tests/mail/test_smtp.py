"""SmtpTransport against a real SMTP server on loopback: plain, STARTTLS
(offered, required), implicit TLS, authentication, and failures that name
no secret."""
from __future__ import annotations

from email.message import EmailMessage
from typing import Iterator

import pytest

from api.mail.transport import MailError, SmtpTransport, parse_mail_url
from tests.mail.smtp import SmtpServer, self_signed


def message(to: str = "ada@example.com") -> EmailMessage:
    m = EmailMessage()
    m["From"], m["To"], m["Subject"] = "Gatehouse <g@example.com>", to, "hello"
    m.set_content("hi")
    m.add_alternative("<p>hi</p>", subtype="html")
    return m


@pytest.fixture
def servers() -> Iterator[list[SmtpServer]]:
    started: list[SmtpServer] = []
    yield started
    for server in started:
        server.stop()


def run(servers: list[SmtpServer], **kwargs) -> SmtpServer:
    server = SmtpServer(**kwargs).start()
    servers.append(server)
    return server


def test_plain_smtp_delivers(servers):
    server = run(servers)
    SmtpTransport(parse_mail_url(server.url), 5).send(message())
    assert server.inbox.envelopes == [["ada@example.com"]]


def test_starttls_required_refuses_a_server_without_it(servers):
    server = run(servers, user="mailer", password="hunter2-pw")
    transport = SmtpTransport(parse_mail_url(server.url + "?starttls=required"), 5)
    with pytest.raises(MailError, match="does not offer STARTTLS") as info:
        transport.send(message())
    assert "hunter2" not in str(info.value)
    assert server.inbox.mails == []


def test_starttls_when_offered_then_login(servers, tmp_path, monkeypatch):
    context, cert = self_signed(tmp_path)
    server = run(servers, user="mailer", password="p@ss:word", tls=context)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client trusts the test's CA
    url = server.url.replace("p@ss:word", "p%40ss%3Aword") + "?starttls=required"
    SmtpTransport(parse_mail_url(url), 5).send(message())
    assert len(server.inbox.mails) == 1


def test_implicit_tls(servers, tmp_path, monkeypatch):
    context, cert = self_signed(tmp_path)
    server = run(servers, user="mailer", password="pw", tls=context, implicit_tls=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    SmtpTransport(parse_mail_url(server.url), 5).send(message())
    assert len(server.inbox.mails) == 1


def test_an_untrusted_certificate_is_refused(servers, tmp_path):
    context, _cert = self_signed(tmp_path)
    server = run(servers, tls=context, implicit_tls=True)
    with pytest.raises(MailError, match="SSL"):
        SmtpTransport(parse_mail_url(server.url), 5).send(message())


def test_wrong_credentials_fail_without_echoing_them(servers, tmp_path, monkeypatch):
    context, cert = self_signed(tmp_path)
    server = run(servers, user="mailer", password="right", tls=context)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    url = server.url.replace(":right@", ":wrong-hunter2@")
    with pytest.raises(MailError) as info:
        SmtpTransport(parse_mail_url(url), 5).send(message())
    assert "hunter2" not in str(info.value) and "right" not in str(info.value)
    assert server.inbox.mails == []


def test_a_server_that_is_down(servers):
    server = run(servers)
    server.stop()
    with pytest.raises(MailError, match="ConnectionRefusedError"):
        SmtpTransport(parse_mail_url(server.url), 5).send(message())
