"""Opening a login session and its first token pair."""
from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from flask import current_app

from api.auth.tokens import hash_refresh_token, issue_access_token, new_refresh_token, token_pair
from api.extensions import db
from api.users.models import AuthSession, User, utcnow


def refresh_expiry() -> datetime:
    return utcnow() + timedelta(seconds=current_app.config["REFRESH_TOKEN_TTL"])


def open_session(user: User, *, two_factor: bool = False) -> dict[str, Any]:
    """A new session and its first token pair (caller commits)."""
    session = AuthSession(id=uuid.uuid4().hex, user_id=user.id, two_factor=two_factor,
                          refresh_generation=0, expires_at=refresh_expiry())
    refresh = new_refresh_token(session.id, 0)
    session.refresh_hash = hash_refresh_token(refresh)
    db.session.add(session)
    db.session.flush()
    return token_pair(issue_access_token(user, session), refresh)
