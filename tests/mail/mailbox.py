"""Reading delivered messages in tests: the link's token, the code, the language."""
from __future__ import annotations

import re
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from urllib.parse import parse_qs, urlsplit

LINK = re.compile(r"https?://\S+/(verify|reset|confirm-email)"
                  r"\?token=[A-Za-z0-9_%-]+(?:&lang=[a-z]+)?")
CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class Mail:
    to: str
    subject: str
    text: str
    html: str
    language: str

    @property
    def link(self) -> str | None:
        found = LINK.search(self.text)
        return found.group(0) if found else None

    @property
    def token(self) -> str | None:
        link = self.link
        return parse_qs(urlsplit(link).query)["token"][0] if link else None

    @property
    def code(self) -> str | None:
        found = CODE.search(self.text)
        return found.group(1) if found else None


def parse(raw: bytes | EmailMessage) -> Mail:
    message = raw if isinstance(raw, EmailMessage) else message_from_bytes(
        raw, policy=policy.default)
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return Mail(str(message["To"]), str(message["Subject"]), text, html,
                str(message["Content-Language"]))


class MemoryTransport:
    """Keeps what it is given; `fail` makes it raise like a server that is down."""

    def __init__(self) -> None:
        self.sent: list[Mail] = []
        self.fail = False

    def send(self, message: EmailMessage, link: str | None = None) -> None:
        from api.mail.transport import MailError

        if self.fail:
            raise MailError("SMTP delivery failed (ConnectionRefusedError)")
        self.sent.append(parse(bytes(message)))


def deliver_all(app) -> list[Mail]:
    """Run the app's courier once over what is due, into memory; what it sent."""
    from api.extensions import db

    courier = app.extensions["gatehouse.courier"]
    memory = MemoryTransport()
    saved, courier.transport = courier.transport, memory
    try:
        with app.app_context():
            courier.deliver_due()
            db.session.remove()
    finally:
        courier.transport = saved
    return memory.sent


def confirm_email_change(client, app) -> Mail:
    """Deliver the pending mail and confirm the email change it links; the confirm mail."""
    [mail] = [m for m in deliver_all(app) if m.link and "/confirm-email?" in m.link]
    response = client.post("/v1/auth/email/confirm", json={"token": mail.token})
    assert response.status_code == 200, response.get_data(as_text=True)
    return mail
