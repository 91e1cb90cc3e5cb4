"""Account operations. Each public function commits once or raises AppError."""
from __future__ import annotations

import base64
import binascii
from typing import Any

from sqlalchemy import Row, bindparam, case, func, or_, select, update

from api.auth.models import AuthSession
from api.auth import attempts
from api.auth.passwords import passwords
from api.auth.sessions import mark_proven
from api.db import end_read_transaction
from api.errors.exceptions import (
    InvalidParameterError, PasswordNotMatchError, UserNotExistsError)
from api.errors.catalog import reason_of
from api.events import kinds
from api.events.service import record_event
from api.extensions import db
from api.users.models import User, utcnow


MAX_ID = 2**63 - 1
PUBLIC_COLUMNS = ("id", "username", "display_name", "created_at")


def parse_id(text: str) -> int | None:
    """An id in ASCII digits within the database's integer range, else None."""
    if not (text.isascii() and text.isdigit()) or len(text) > 19:
        return None
    value = int(text)
    return value if value <= MAX_ID else None


def _taken(field: str, reason: str) -> InvalidParameterError:
    message = reason_of(reason).description
    return InvalidParameterError(message, reason=reason, fields={field: [message]})


def _ensure_free(username: str | None = None, email: str | None = None,
                 exclude_id: int | None = None) -> None:
    """88 naming the field when a username or email is in use (races end in
    the unique constraint, which the error handler maps to the same 88)."""
    checks = [("username", User.username_key, username, "user.username.taken"),
              ("email", User.email_key, email, "user.email.taken")]
    for field, column, value, reason in checks:
        if value is None:
            continue
        query = select(User.id).where(column == value.lower())
        if exclude_id is not None:
            query = query.where(User.id != exclude_id)
        if db.session.execute(query.limit(1)).first() is not None:
            raise _taken(field, reason)


def ensure_free(username: str, email: str) -> None:
    """88 naming the field when the username or email is taken: the CLI asks
    before prompting for a password, so nobody types one twice for nothing."""
    _ensure_free(username, email)


def ensure_email_free(email: str, exclude_id: int | None = None) -> None:
    """88 `user.email.taken` naming the field when another account has it."""
    _ensure_free(email=email, exclude_id=exclude_id)


def create_user(username: str, email: str, password: str, *,
                display_name: str | None = None, is_admin: bool = False,
                locale: str = "en", verify_email: bool = False) -> User:
    """A new account; with `verify_email`, a verification mail is queued
    with it (sign-up; an admin's `users create` sends none)."""
    _ensure_free(username, email)
    end_read_transaction()  # argon2 with no transaction open; a racing
    # registration of the same name ends in the unique constraint: 88 all the same
    user = User(password_hash=passwords().hash(password), display_name=display_name,
                is_admin=is_admin, locale=locale)
    user.set_username(username)
    user.set_email(email)
    db.session.add(user)
    if verify_email:
        db.session.flush()  # its id, for the message
        from api.mail.courier import queue

        queue("verify_email", user_id=user.id)
    db.session.commit()
    return user


_PROFILE_QUERY = select(*(User.__table__.c[name] for name in PUBLIC_COLUMNS)).where(
    User.__table__.c.id == bindparam("id"))


def get_profile(user_id: int) -> Row:
    """A user's public columns only (a Core select: no entity, no hash loaded)."""
    row = db.session.execute(_PROFILE_QUERY, {"id": user_id}).first()
    if row is None:
        raise UserNotExistsError(reason="user.fetch.not_found")
    return row


def find_user(identifier: str) -> User:
    """By id, username or email (case-insensitive), for the admin CLI."""
    key = identifier.lower()
    user_id = parse_id(identifier)
    query = select(User).where(or_(User.username_key == key, User.email_key == key))
    if user_id is not None:
        query = select(User).where(or_(User.id == user_id, User.username_key == key))
    user = db.session.execute(query.limit(1)).scalar_one_or_none()
    if user is None:
        raise UserNotExistsError(f"No user matches {identifier!r}.",
                                 reason="user.fetch.not_found")
    return user


def credentials_of(login: str) -> Row | None:
    """The id and password hash of the account with this username or email."""
    key = login.lower()
    return db.session.execute(
        select(User.id, User.password_hash)
        .where(or_(User.username_key == key, User.email_key == key)).limit(1)
    ).first()


def check_password(user_id: int, password_hash: str, password: str, *,
                   new_password: str | None = None) -> User:
    """The account, read again once `password` matches its `password_hash`,
    else 22; with `new_password`, its hash replaced (the caller commits).

    argon2 runs with no transaction open (api.db.end_read_transaction), so
    the caller reads the id and hash before. An account deleted or given
    another password while the hash ran answers 22 too: the password was
    checked against a hash the account no longer has.

    Every check is counted (api.auth.attempts): a wrong password is a
    failure for the account and the client address, and while either backs
    off the check answers 429 without hashing.
    """
    attempts.check(user_id)  # 429 while the account or address backs off
    end_read_transaction()
    if not passwords().verify(password_hash, password):
        attempts.failed(user_id)
        raise PasswordNotMatchError(reason="auth.password.mismatch")
    new_hash = None if new_password is None else passwords().hash(new_password)
    user = db.session.get(User, user_id)
    if user is None or user.password_hash != password_hash:
        raise PasswordNotMatchError(reason="auth.password.mismatch")
    if new_hash is not None:
        user.password_hash = new_hash
    return user


def update_user(user: User, changes: dict[str, Any], session_id: str | None = None) -> User:
    """Change the display name or mail language at once; an email change
    is requested (a confirmation link mailed to the new address, see
    api/account/service.py) and takes effect when it is confirmed.
    `current_password` in `changes`
    (the schema requires it with an email: the address is the key to
    password recovery) is checked first, before the address is looked up,
    so whether an address is taken is only told to someone who knows the
    password; a right one renews the session's proof (`session_id`)."""
    changes = dict(changes)
    password = changes.pop("current_password", None)
    if password is not None:
        user = check_password(user.id, user.password_hash, password)
        if session_id is not None:
            mark_proven(session_id)
    if "email" in changes:
        _ensure_free(email=changes["email"], exclude_id=user.id)
        if changes["email"].lower() != user.email_key:
            # takes effect when the new address confirms (SPEC §11)
            from api.account.service import request_email_change

            request_email_change(user, changes["email"])
        elif changes["email"] != user.email:  # the same mailbox, spelled otherwise
            user.set_email(changes["email"])
    if "locale" in changes:
        user.locale = changes["locale"]
    if "display_name" in changes:
        user.display_name = changes["display_name"]
    db.session.commit()
    return user


def delete_account(user: User, password: str) -> None:
    delete_user(check_password(user.id, user.password_hash, password))


def delete_user(user: User) -> None:
    db.session.delete(user)
    db.session.commit()


def revoke_sessions(user_id: int, *, except_session: str | None = None,
                    reason: str = "revoked") -> int:
    """Revoke a user's live sessions (caller commits)."""
    query = update(AuthSession).where(AuthSession.user_id == user_id,
                                      AuthSession.revoked_at.is_(None))
    if except_session is not None:
        query = query.where(AuthSession.id != except_session)
    result = db.session.execute(query.values(revoked_at=utcnow(), revoked_reason=reason))
    return result.rowcount or 0


def count_live_sessions(user_id: int) -> int:
    """How many of a user's sessions are live (neither revoked nor expired):
    one query through ix_auth_sessions_user_id_revoked_at, no session loaded. The
    expiry is counted, not filtered on: a condition on expires_at could
    lead a planner to the expiry index, whose worth depends on statistics."""
    live = case((AuthSession.expires_at > utcnow(), 1), else_=0)
    return db.session.scalar(
        select(func.coalesce(func.sum(live), 0))
        .where(AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None))) or 0


def block_user(user: User, reason: str | None) -> int:
    user.is_blocked = True
    user.blocked_reason = reason
    user.blocked_at = utcnow()
    revoked = revoke_sessions(user.id, reason="blocked")
    record_event(kinds.ACCOUNT_BLOCKED, user.id, details={"by": "admin"})
    db.session.commit()
    return revoked


def unblock_user(user: User) -> None:
    user.is_blocked = False
    user.blocked_reason = None
    user.blocked_at = None
    record_event(kinds.ACCOUNT_UNBLOCKED, user.id, details={"by": "admin"})
    db.session.commit()


def set_password(user: User, password: str) -> int:
    """Admin reset: new hash, every session revoked."""
    user_id = user.id
    end_read_transaction()  # argon2 with no transaction open
    new_hash = passwords().hash(password)
    user = db.session.get(User, user_id)
    if user is None:  # deleted meanwhile
        raise UserNotExistsError(reason="user.fetch.not_found")
    user.password_hash = new_hash
    revoked = revoke_sessions(user.id, reason="password_reset")
    record_event(kinds.PASSWORD_RESET, user.id, details={"by": "admin"})
    db.session.commit()
    return revoked


def revoke_all_sessions(user: User) -> int:
    revoked = revoke_sessions(user.id, reason="admin")
    record_event(kinds.SESSION_REVOKED, user.id, details={"by": "admin", "sessions": revoked})
    db.session.commit()
    return revoked


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"u:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, value = raw.partition(":")
        last_id = parse_id(value) if prefix == "u" else None
        if last_id is None:
            raise ValueError(cursor)
        return last_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidParameterError("The pagination cursor is invalid.",
                                    reason="request.query.invalid_cursor",
                                    fields={"cursor": ["Invalid cursor."]}) from None


def list_users(limit: int, cursor: str | None = None) -> tuple[list[User], str | None]:
    query = select(User).order_by(User.id).limit(limit + 1)
    if cursor:
        query = query.where(User.id > decode_cursor(cursor))
    users = list(db.session.execute(query).scalars())
    next_cursor = encode_cursor(users[limit - 1].id) if len(users) > limit else None
    return users[:limit], next_cursor
