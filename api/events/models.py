"""The event log's table."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from api.auth.models import USER_AGENT_MAX
from api.events.context import ADDRESS_MAX
from api.extensions import db
from api.users.models import Id, utcnow


class SecurityEvent(db.Model):
    """One thing that happened to an account, kept EVENT_RETENTION_DAYS.

    `session_id` is not a foreign key: the event outlives the session (the
    prune deletes ended sessions long before their events)."""

    __tablename__ = "security_events"
    __table_args__ = (
        # the owner's listing, newest first, pages by id
        Index("ix_security_events_user_id_id", "user_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(Id, ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(40))
    # indexed for the prune, which deletes by age
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    client_address: Mapped[str | None] = mapped_column(String(ADDRESS_MAX))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX))
    session_id: Mapped[str | None] = mapped_column(String(32))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)
