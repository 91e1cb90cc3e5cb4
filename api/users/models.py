"""User accounts."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db

if TYPE_CHECKING:  # defined there, found by name when the mappers are configured
    from api.auth.models import AuthSession


# 64-bit ids on PostgreSQL; SQLite's rowid is already 64-bit, and only a
# column typed INTEGER can be its autoincrementing alias
Id = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> datetime:
    """Naive UTC: SQLite and PostgreSQL then compare the same way."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


# the condition of ix_users_id_totp_sealed; a query that uses the index says
# exactly this (the planners match a partial index's condition by its terms)
TOTP_SEALED = "totp_secret IS NOT NULL OR totp_pending_secret IS NOT NULL"


class User(db.Model):
    __tablename__ = "users"
    __table_args__ = (
        # the accounts holding a sealed TOTP secret, in id order: key rotation
        # (api/auth/twofactor.py) walks them a batch at a time without
        # reading the accounts that have none
        Index("ix_users_id_totp_sealed", "id", postgresql_where=text(TOTP_SEALED),
              sqlite_where=text(TOTP_SEALED)),
        # SQLite would otherwise hand a deleted user's id to the next sign-up
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    username: Mapped[str] = mapped_column(String(32))
    # lower-cased copies carry the case-insensitive unique constraints
    username_key: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254))
    email_key: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    display_name: Mapped[str | None] = mapped_column(String(64))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_blocked: Mapped[bool] = mapped_column(Boolean, default=False)
    blocked_reason: Mapped[str | None] = mapped_column(String(255))
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # proven by a link or code mailed to the address (api/account/verification.py)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False,
                                                 server_default=false())
    # the language of the mail the account receives (en, zh)
    locale: Mapped[str] = mapped_column(String(8), default="en", server_default="en")
    totp_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # encrypted (api/auth/totp.py: seal, unseal), never the secret itself
    totp_secret: Mapped[str | None] = mapped_column(String(255))
    totp_pending_secret: Mapped[str | None] = mapped_column(String(255))
    totp_last_step: Mapped[int | None] = mapped_column(Integer)
    # whether a usable passkey is registered (api/passkeys/), kept with every
    # add and removal: with totp_enabled, what "2FA on" means (two_factor_on)
    has_passkey: Mapped[bool] = mapped_column(Boolean, default=False,
                                              server_default=false())
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    sessions: Mapped[list["AuthSession"]] = relationship(
        back_populates="user", cascade="all, delete-orphan", passive_deletes=True)

    @property
    def two_factor_on(self) -> bool:
        """2FA is on when a second factor exists: TOTP, or a passkey. Such an
        account's sessions and access tokens are `2f.` ones (SPEC §5)."""
        return bool(self.totp_enabled or self.has_passkey)

    def set_username(self, username: str) -> None:
        self.username = username
        self.username_key = username.lower()

    def set_email(self, email: str) -> None:
        self.email = email
        self.email_key = email.lower()
