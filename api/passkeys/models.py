"""What passkeys keep: the credentials, and the challenges handed out for them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.users.models import Id, utcnow

# WebAuthn caps a credential id at 1023 bytes
CREDENTIAL_ID_MAX = 1023
NAME_MAX = 64


class Passkey(db.Model):
    """One registered WebAuthn credential: its id and public key (COSE), never
    anything secret. `sign_count` is the authenticator's last signature
    counter (0 for authenticators that keep none)."""

    __tablename__ = "passkeys"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[bytes] = mapped_column(LargeBinary(CREDENTIAL_ID_MAX), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(2048))
    # an unsigned 32-bit counter: beyond PostgreSQL's integer
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    aaguid: Mapped[str | None] = mapped_column(String(36))
    transports: Mapped[str | None] = mapped_column(String(128))  # comma-separated
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    user_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)
    # set when a signature counter went backwards (a cloned authenticator):
    # the credential signs nothing in any more; its owner removes it
    disabled_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def transport_list(self) -> list[str]:
        return self.transports.split(",") if self.transports else []


class PasskeyChallenge(db.Model):
    """A WebAuthn challenge handed out with options: used once (compare-and-set
    on used_at), dead at expires_at. `user_id` is empty for a passwordless
    sign-in (no one is known until the passkey answers)."""

    __tablename__ = "passkey_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # register, sign_in, second_factor, confirm
    purpose: Mapped[str] = mapped_column(String(16))
    challenge: Mapped[bytes] = mapped_column(LargeBinary(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # indexed for the prune (api/maintenance.py)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
