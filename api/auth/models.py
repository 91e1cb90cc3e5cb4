"""What authentication keeps: login sessions, recovery codes, 2FA login challenges."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from api.extensions import db
from api.users.models import Id, User, utcnow

USER_AGENT_MAX = 256


class AuthSession(db.Model):
    """One login: the refresh token's hash lives here, never the token."""

    __tablename__ = "auth_sessions"
    __table_args__ = (
        # a user's sessions (the cascade when an account is deleted), and
        # their live ones (revoked_at IS NULL: revoke on a password or 2FA
        # change, a block; the session list) as one contiguous range, so
        # those reads do not grow with the user's history of revoked ones.
        # One composite index, not a plain user_id index beside a partial
        # one: with two equal candidates SQLite without statistics took
        # whichever was created last
        Index("ix_auth_sessions_user_id_revoked_at", "user_id", "revoked_at"),
        # for the prune (api/maintenance.py: revoked_at < cutoff). Only the
        # revoked rows: on the live ones (NULL) a planner with statistics
        # would take it for "revoked_at IS NULL" and read every live session
        Index("ix_auth_sessions_revoked_at", "revoked_at",
              postgresql_where=text("revoked_at IS NOT NULL"),
              sqlite_where=text("revoked_at IS NOT NULL")),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"))
    refresh_hash: Mapped[str] = mapped_column(String(64))
    refresh_generation: Mapped[int] = mapped_column(Integer, default=0)
    two_factor: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    # indexed for the prune (api/maintenance.py), which deletes by it
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)  # indexed above
    revoked_reason: Mapped[str | None] = mapped_column(String(32))
    # the last password or second-factor proof of this session (login, 2FA
    # verify, re-authentication): what "recently proven" is measured from
    auth_time: Mapped[datetime | None] = mapped_column(DateTime)
    # when refresh_generation last advanced: the previous generation's token,
    # presented shortly after, lost a race rather than leaked
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # where it signed in from (GET /v1/auth/sessions): the client address
    # behind trusted proxies, the User-Agent header cut to its column and
    # stripped of control characters (api/events/context.py)
    client_address: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(USER_AGENT_MAX))

    user: Mapped[User] = relationship(back_populates="sessions")

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()


class RecoveryCode(db.Model):
    """A single-use 2FA recovery code; only its SHA-256 is kept."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(Id, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginChallenge(db.Model):
    """The second step of a 2FA login: counts wrong codes, used once."""

    __tablename__ = "login_challenges"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(
        Id, ForeignKey("users.id", ondelete="CASCADE"), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    consumed_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()
