"""Opening a login session and its first token pair."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import update

from api.auth.models import AuthSession
from api.auth.tokens import hash_refresh_token, issue_access_token, new_refresh_token, token_pair
from api.events import kinds
from api.events.context import client_address, user_agent
from api.events.service import record_event
from api.extensions import db
from api.users.models import User, utcnow


def refresh_expiry(created_at: datetime | None = None) -> datetime:
    """When a session opened at `created_at` (default: now) expires if its
    refresh token is rotated now: REFRESH_TOKEN_TTL from now, never past
    SESSION_MAX_AGE from its opening (a refresh slides only within it)."""
    now = utcnow()
    config = current_app.config
    sliding = now + timedelta(seconds=config["REFRESH_TOKEN_TTL"])
    absolute = (created_at or now) + timedelta(seconds=config["SESSION_MAX_AGE"])
    return min(sliding, absolute)


def open_session(user: User, *, two_factor: bool = False,
                 sign_in: str | None = None) -> dict[str, Any]:
    """A new session and its first token pair (caller commits). Every session
    opens on a proof (a password, a second factor), so that is its auth_time.
    `sign_in` (the proof: password, totp, recovery_code) records the
    sign-in's event; a session opened by a 2FA change is not a sign-in."""
    now = utcnow()
    session = AuthSession(id=uuid.uuid4().hex, user_id=user.id, two_factor=two_factor,
                          refresh_generation=0, created_at=now, last_used_at=now,
                          expires_at=refresh_expiry(now), auth_time=now,
                          client_address=client_address(), user_agent=user_agent())
    refresh = new_refresh_token(session.id, 0)
    session.refresh_hash = hash_refresh_token(refresh)
    db.session.add(session)
    db.session.flush()
    if sign_in is not None:
        record_event(kinds.SIGN_IN_SUCCEEDED, user.id, session_id=session.id,
                     details={"method": sign_in})
    return token_pair(issue_access_token(user, session), refresh)


def mark_proven(session_id: str) -> None:
    """Record a password or second-factor proof given now in this session
    (its auth_time; caller commits): re-authentication is measured from it."""
    db.session.execute(update(AuthSession).where(AuthSession.id == session_id)
                       .values(auth_time=utcnow())
                       .execution_options(synchronize_session=False))
