"""A real SMTP server on loopback for tests (aiosmtpd), that can go down and come back."""
from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
import time
from pathlib import Path
from typing import Any, Callable

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from tests.mail.mailbox import Mail, parse
from tests.server import free_port


class Inbox:
    """What the server accepted, in order; each with its envelope recipients."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.mails: list[Mail] = []
        self.envelopes: list[list[str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.mails.append(parse(envelope.content))
            self.envelopes.append(list(envelope.rcpt_tos))
        return "250 Message accepted"

    def to(self, address: str) -> list[Mail]:
        with self.lock:
            return [m for m in self.mails if m.to == address]

    def wait(self, done: Callable[[], bool], timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() > deadline:
                raise TimeoutError(f"mail did not arrive in time; got {len(self.mails)}")
            time.sleep(0.05)

    def wait_for(self, address: str, count: int = 1, timeout: float = 20) -> list[Mail]:
        self.wait(lambda: len(self.to(address)) >= count, timeout)
        return self.to(address)


def _accept(user: str, password: str) -> Callable[..., AuthResult]:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any):
        ok = auth_data.login == user.encode() and auth_data.password == password.encode()
        return AuthResult(success=ok)
    return check


class SmtpServer:
    """aiosmtpd on 127.0.0.1:<port>; stop() and start() again on the same port."""

    def __init__(self, *, user: str | None = None, password: str | None = None,
                 tls: ssl.SSLContext | None = None, implicit_tls: bool = False) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.user, self.password = user, password
        self.tls, self.implicit_tls = tls, implicit_tls
        self.controller: Controller | None = None

    def start(self) -> "SmtpServer":
        kwargs: dict[str, Any] = {}
        if self.user:
            kwargs.update(authenticator=_accept(self.user, self.password or ""),
                          # implicit TLS: aiosmtpd cannot tell the socket is TLS
                          auth_require_tls=self.tls is not None and not self.implicit_tls)
        if self.tls is not None and self.implicit_tls:
            kwargs["ssl_context"] = self.tls
        elif self.tls is not None:
            kwargs.update(tls_context=self.tls, require_starttls=True)
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port,
                                     ready_timeout=10, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    @property
    def url(self) -> str:
        auth = f"{self.user}:{self.password}@" if self.user else ""
        return f"{'smtps' if self.implicit_tls else 'smtp'}://{auth}127.0.0.1:{self.port}"


def self_signed(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server TLS context for 127.0.0.1, and the certificate file a client trusts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = directory / "smtp.crt", directory / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return context, cert_file
