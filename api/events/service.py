"""Recording and reading security events.

Two ways in, by what the event records:

- `record_event`: something the request changes (a password changed, a
  session revoked, a session revoked for a reused refresh token, a login
  challenge's attempt spent on a wrong code). The event joins the
  request's transaction and commits with it, in its one commit: it exists
  exactly when the change does.
- `record_failure`: an attempt that fails and changes nothing (a wrong
  password, a blocked account's login). The request answers with an
  error and its transaction is rolled back, which would take the event with
  it; so the request's transaction is ended (rolled back: the action did
  not happen) and the event is written in a short transaction of its own.
  That commit is the failed request's only one: the rule "one commit per
  request" still holds, for the one thing a failed request keeps.

Neither ever makes the request fail: an unknown kind is logged and
dropped, and a failed write of a failure event is logged and swallowed
(the error the request is about to answer is the one that matters).
"""
from __future__ import annotations

import base64
import binascii
import logging
from typing import Any, Callable

from flask import g, has_app_context
from sqlalchemy import insert, select, text
from sqlalchemy.exc import SQLAlchemyError

from api.errors.exceptions import InvalidParameterError
from api.events.context import client_address, user_agent
from api.events.kinds import KINDS
from api.events.models import SecurityEvent
from api.extensions import db
from api.users.models import utcnow

log = logging.getLogger("api.events")
# called as listener(kind, user_id, details) for each recorded (not failed)
# event, in the same transaction: what it writes commits with the change
EVENT_LISTENERS: list[Callable[[str, int, dict[str, Any]], None]] = []
_MAX_ID = 2**63 - 1


def _current_session_id() -> str | None:
    session = g.get("auth_session") if has_app_context() else None
    return getattr(session, "id", None)


# one statement for every event, executed with a row of values: a Core
# insert costs a fraction of an ORM object's unit-of-work flush
_INSERT = insert(SecurityEvent.__table__)
_ASYNC_COMMIT = text("SET LOCAL synchronous_commit TO OFF")


def _event(kind: str, user_id: int, session_id: str | None,
           details: dict[str, Any] | None) -> dict[str, Any] | None:
    if kind not in KINDS:
        log.error("unknown security event kind %r: not recorded", kind)
        return None
    return {"user_id": user_id, "kind": kind, "created_at": utcnow(),
            "client_address": client_address(), "user_agent": user_agent(),
            "session_id": session_id or _current_session_id(), "details": details or None}


def record_event(kind: str, user_id: int, *, session_id: str | None = None,
                 details: dict[str, Any] | None = None) -> None:
    """Record a change the caller is about to commit (it commits with it).

    `session_id` defaults to the bearer's session; the address and user
    agent are the request's (none from the CLI). `details`: a few short,
    non-secret values (kinds.py names them)."""
    row = _event(kind, user_id, session_id, details)
    if row is not None:
        db.session.execute(_INSERT, row)
        for listener in EVENT_LISTENERS:  # e.g. a security notice by mail, queued with it
            listener(kind, user_id, details or {})


def record_failure(kind: str, user_id: int, *, session_id: str | None = None,
                   details: dict[str, Any] | None = None) -> None:
    """Record an attempt that failed, before its error is raised: the
    request's transaction is rolled back (nothing it wrote is kept) and the
    event committed on its own. Never raises."""
    row = _event(kind, user_id, session_id, details)
    if row is None:
        return
    try:
        db.session.rollback()
        if db.session.get_bind().dialect.name == "postgresql":
            # the request's answer need not wait for this commit's WAL flush
            # (a failed attempt's work was rolled back: nothing else rides on
            # it); a crash in the next fraction of a second may lose the event,
            # never half of it
            db.session.execute(_ASYNC_COMMIT)
        db.session.execute(_INSERT, row)
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.warning("security event %s of user %s not recorded (%s)", kind, user_id,
                    type(exc).__name__)


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"e:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        if prefix != "e" or not (value.isascii() and value.isdigit()) or len(value) > 19 \
                or int(value) > _MAX_ID:
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameterError("The pagination cursor is invalid.",
                                    reason="request.query.invalid_cursor",
                                    fields={"cursor": ["Invalid cursor."]}) from None


def list_events(user_id: int, limit: int,
                cursor: str | None = None) -> tuple[list[SecurityEvent], str | None]:
    """A user's events, newest first, a page at a time."""
    query = (select(SecurityEvent).where(SecurityEvent.user_id == user_id)
             .order_by(SecurityEvent.id.desc()).limit(limit + 1))
    if cursor:
        query = query.where(SecurityEvent.id < decode_cursor(cursor))
    events = list(db.session.execute(query).scalars())
    next_cursor = encode_cursor(events[limit - 1].id) if len(events) > limit else None
    return events[:limit], next_cursor
