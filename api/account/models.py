"""One-time tokens mailed to an account's owner (verify, reset, confirm)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.users.models import Id, utcnow

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
CHANGE_EMAIL = "change_email"


class AccountToken(db.Model):
    """A single-use token; only its SHA-256 is stored (the token has 256
    random bits, so a plain hash cannot be reversed by guessing)."""

    __tablename__ = "account_tokens"
    __table_args__ = (
        Index("ix_account_tokens_user_id_purpose", "user_id", "purpose"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    purpose: Mapped[str] = mapped_column(String(20))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # verification: the short code's HMAC, and how many wrong codes it took
    code_hash: Mapped[str | None] = mapped_column(String(64))
    failed_codes: Mapped[int] = mapped_column(Integer, default=0)
    # email change: the address that confirms
    new_email: Mapped[str | None] = mapped_column(String(254))
    # reset: a digest of the password hash it was issued under; another
    # password since (changed, reset, set by an admin) voids the token
    password_stamp: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # indexed for the prune
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime)
