"""Sending one message: SMTP (smtplib) per MAIL_URL, or .eml files in development.

MAIL_URL: ``smtps://user:pass@host:465`` is implicit TLS;
``smtp://user:pass@host:587`` upgrades with STARTTLS when the server offers
it, and with ``?starttls=required`` refuses to send (and to log in) without
it. User and password are percent-decoded; neither ever appears in a log
line or an error message.
"""
from __future__ import annotations

import logging
import os
import smtplib
import ssl
import time
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

log = logging.getLogger("api.mail")

STARTTLS_MODES = ("auto", "required")


class MailError(Exception):
    """A message could not be handed over (retried; its text holds no secret)."""


@dataclass(frozen=True)
class SmtpSettings:
    implicit_tls: bool
    host: str
    port: int
    username: str | None
    password: str | None
    starttls: str

    def __repr__(self) -> str:  # the password stays out of any repr
        return f"SmtpSettings(host={self.host!r}, port={self.port})"


def parse_mail_url(url: str) -> SmtpSettings:
    """MAIL_URL's parts; ValueError (without the URL, which holds a
    password) when it is not usable."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise ValueError("MAIL_URL has a malformed host or port") from None
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("MAIL_URL must be smtp://[user:password@]host[:port] or "
                         "smtps://… (implicit TLS)")
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = set(query) - {"starttls"}
    if unknown:
        raise ValueError(f"MAIL_URL has unknown options: {', '.join(sorted(unknown))} "
                         f"(known: starttls)")
    starttls = query.get("starttls", ["auto"])[-1]
    if starttls not in STARTTLS_MODES:
        raise ValueError("MAIL_URL's starttls must be auto or required")
    if parts.scheme == "smtps" and "starttls" in query:
        raise ValueError("MAIL_URL: smtps:// is TLS from the start; starttls applies to smtp://")
    implicit = parts.scheme == "smtps"
    return SmtpSettings(implicit, parts.hostname, port or (465 if implicit else 587),
                        unquote(parts.username) if parts.username else None,
                        unquote(parts.password) if parts.password is not None else None,
                        starttls)


class Transport(Protocol):
    def send(self, message: EmailMessage, link: str | None = None) -> None: ...


class SmtpTransport:
    """One connection per message: a courier sends a few messages a second
    at most, and a fresh connection never finds a server-closed one."""

    def __init__(self, settings: SmtpSettings, timeout: float) -> None:
        self.settings = settings
        self.timeout = timeout

    def send(self, message: EmailMessage, link: str | None = None) -> None:
        s = self.settings
        context = ssl.create_default_context()
        try:
            if s.implicit_tls:
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout,
                                                        context=context)
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
            with client:
                client.ehlo()
                if not s.implicit_tls:
                    if client.has_extn("starttls"):
                        client.starttls(context=context)
                        client.ehlo()
                    elif s.starttls == "required":
                        raise MailError("the SMTP server does not offer STARTTLS, which "
                                        "MAIL_URL requires (starttls=required)")
                if s.username:
                    client.login(s.username, s.password or "")
                client.send_message(message)
        except smtplib.SMTPResponseException as exc:
            # the server's code only: its text may echo an address or a credential
            raise MailError(f"SMTP server answered {exc.smtp_code} "
                            f"({type(exc).__name__})") from None
        except (smtplib.SMTPException, OSError) as exc:
            raise MailError(f"SMTP delivery failed ({type(exc).__name__})") from None


class FileTransport:
    """Development without MAIL_URL: each message an .eml file in MAIL_DIR
    (written whole, then renamed, so a reader never sees half of one)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage, link: str | None = None) -> None:
        """The link (a development convenience: no mail server needed to
        follow it) is logged too."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
            temporary = self.directory / f".{name}.tmp"
            temporary.write_bytes(bytes(message))
            os.replace(temporary, self.directory / name)
        except OSError as exc:
            raise MailError(f"could not write the message file ({type(exc).__name__})") \
                from None
        log.info("mail written to %s (development: no MAIL_URL)%s",
                 self.directory / name, f"; link: {link}" if link else "")


def transport_for(config: dict) -> Transport:
    if config["MAIL_URL"]:
        return SmtpTransport(parse_mail_url(config["MAIL_URL"]), config["MAIL_TIMEOUT"])
    return FileTransport(Path(config["MAIL_DIR"]))
