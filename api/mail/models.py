"""The outbox: one row per message, written in the transaction of the change
that causes it; the courier claims, renders, sends and marks it."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from api.extensions import db
from api.users.models import Id, utcnow

PENDING = "pending"
SENT = "sent"
FAILED = "failed"      # gave up after MAIL_MAX_ATTEMPTS
DROPPED = "dropped"    # nothing to send (a "forgot" for an address with no account)


class MailMessage(db.Model):
    """A message to send. It holds no secret: a link's token is issued when
    the courier renders the message, and only its hash is stored
    (api/account/tokens.py)."""

    __tablename__ = "mail_outbox"
    __table_args__ = (
        # the courier's claim: due pending rows, oldest first
        Index("ix_mail_outbox_status_next_attempt_at", "status", "next_attempt_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    template: Mapped[str] = mapped_column(String(40))
    # the account the message is about; None: resolved from `to_address`
    # when it is sent (a "forgot" or "resend" for an address as typed)
    user_id: Mapped[int | None] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    to_address: Mapped[str | None] = mapped_column(String(254))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # a claim: who sends it now, and until when (a dead courier's claim lapses)
    claimed_by: Mapped[str | None] = mapped_column(String(32))
    lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # indexed for the prune, which deletes sent mail by age
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, index=True)
