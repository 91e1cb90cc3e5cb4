"""The caller's sessions as they see them (GET /v1/auth/sessions) and
ending one (DELETE /v1/auth/sessions/{id}).

The user agent is stored as the client sent it (cut and cleaned) and
parsed when read: reads are rare (a settings page), sign-ins are not, and
a newer parser then names old sessions' browsers too. ua-parser keeps an
LRU cache of its answers.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from ua_parser import parse

from api.auth.models import AuthSession
from api.errors.exceptions import InvalidParameterError
from api.events import kinds
from api.events.service import record_event
from api.extensions import db
from api.users.models import utcnow

_LIST_COLUMNS = (AuthSession.id, AuthSession.created_at, AuthSession.last_used_at,
                 AuthSession.expires_at, AuthSession.client_address,
                 AuthSession.user_agent, AuthSession.two_factor)


def _version(part: Any) -> str | None:
    numbers = [n for n in (part.major, part.minor, getattr(part, "patch", None)) if n]
    return ".".join(numbers) or None


def describe_agent(agent: str | None) -> dict[str, str | None]:
    """Browser and operating system named by a User-Agent header (None when unknown)."""
    result = parse(agent) if agent else None
    browser = result.user_agent if result is not None else None
    system = result.os if result is not None else None
    device = result.device if result is not None else None
    return {
        "browser": browser.family if browser else None,
        "browser_version": _version(browser) if browser else None,
        "os": system.family if system else None,
        "os_version": _version(system) if system else None,
        "device": device.family if device and device.family != "Other" else None,
    }


def list_sessions(user_id: int, current_id: str) -> list[dict[str, Any]]:
    """The user's live sessions, most recently used first. The query reads
    the unrevoked ones (one range of ix_auth_sessions_user_id_revoked_at);
    the expired ones among them, kept until the prune takes them, are left
    out here rather than in SQL: a condition on expires_at lets a planner
    with statistics pick the expiry index, whose cost grows with everyone's
    sessions."""
    now = utcnow()
    rows = db.session.execute(
        select(*_LIST_COLUMNS)
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))
        .order_by(AuthSession.last_used_at.desc(), AuthSession.created_at.desc())).all()
    return [{**row._mapping, "current": row.id == current_id,
             "agent": describe_agent(row.user_agent)} for row in rows if row.expires_at > now]


def _not_found() -> InvalidParameterError:
    return InvalidParameterError(reason="auth.session.not_found",
                                 fields={"id": ["No live session of yours has this id."]})


def revoke_session(user_id: int, session_id: str) -> None:
    """End one of the user's own live sessions. Someone else's, an ended
    one and an unknown id get the same answer: a session id tells nothing
    about other accounts."""
    if not (len(session_id) == 32 and session_id.isascii() and session_id.isalnum()):
        raise _not_found()
    ended = db.session.execute(
        update(AuthSession)
        .where(AuthSession.id == session_id, AuthSession.user_id == user_id,
               AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow())
        .values(revoked_at=utcnow(), revoked_reason="user_revoked")
        .execution_options(synchronize_session=False)).rowcount
    if ended != 1:
        raise _not_found()
    record_event(kinds.SESSION_REVOKED, user_id,
                 details={"by": "user", "session": session_id})
    db.session.commit()
