"""Login, sessions, refresh rotation, logout and password change.

Each public function commits once or raises an AppError; the global
handler rolls back whatever a failed one had begun.
"""
from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import update

from api.auth import twofactor
from api.auth.passwords import passwords
from api.auth.sessions import open_session, refresh_expiry
from api.auth.tokens import (
    SessionRef, hash_refresh_token, issue_access_token, new_refresh_token, parse_refresh_token,
    token_pair)
from api.db import end_read_transaction
from api.errors.exceptions import (
    PasswordNotMatchError, UnauthorizedError, UserNotExistsError)
from api.extensions import db
from api.users.models import AuthSession, User, utcnow
from api.users.service import check_password, credentials_of, revoke_sessions


def check_credentials(login: str, password: str) -> User:
    """The user whose login and password these are, or 21/22/99.

    An unknown login spends one verification too, so timing does not tell
    which accounts exist. A blocked account is only revealed to someone who
    knows its password.
    """
    generic = current_app.config["AUTH_GENERIC_LOGIN_ERRORS"]
    found = credentials_of(login)
    if found is None:
        end_read_transaction()  # as check_password does before its hash
        passwords().spend_one_verification(password)
        if generic:
            raise PasswordNotMatchError(reason="auth.login.invalid_credentials")
        raise UserNotExistsError(reason="auth.login.unknown_user")
    # a hash made with older cost settings is upgraded, with the same password
    upgrade = password if passwords().needs_rehash(found.password_hash) else None
    try:
        user = check_password(found.id, found.password_hash, password, new_password=upgrade)
    except PasswordNotMatchError:
        if generic:
            raise PasswordNotMatchError(reason="auth.login.invalid_credentials") from None
        raise
    if user.is_blocked:
        raise UnauthorizedError(reason="auth.account.blocked")
    return user


def login(login_name: str, password: str) -> dict[str, Any]:
    """Tokens, or a 2FA challenge when the account has two-factor enabled."""
    user = check_credentials(login_name, password)
    result = twofactor.start_challenge(user) if user.totp_enabled else open_session(user)
    db.session.commit()
    return result


def refresh(refresh_token: str) -> dict[str, Any]:
    """Rotate: the presented token is spent, a new pair is issued.

    A token the server issued for an earlier generation has been used
    already: someone holds a copy, so the whole session is revoked.
    """
    claim = parse_refresh_token(refresh_token)
    session = db.session.get(AuthSession, claim.session_id)
    if session is None:
        raise UnauthorizedError(reason="auth.refresh.invalid")
    # blocking revokes the sessions too; the client must hear "blocked"
    if session.user.is_blocked:
        raise UnauthorizedError(reason="auth.account.blocked")
    if session.revoked_at is not None or session.expires_at <= utcnow():
        raise UnauthorizedError(reason="auth.refresh.invalid")
    if (claim.generation != session.refresh_generation
            or hash_refresh_token(refresh_token) != session.refresh_hash):
        session.revoked_at = utcnow()
        session.revoked_reason = "refresh_reuse"
        db.session.commit()
        raise UnauthorizedError(reason="auth.refresh.reused")
    user = session.user
    if session.two_factor != user.totp_enabled:
        raise UnauthorizedError(reason="auth.token.2fa_mismatch")
    generation = claim.generation + 1
    new_refresh = new_refresh_token(session.id, generation)
    # compare-and-set on the generation: of two concurrent refreshes with one
    # token, exactly one wins; the other is a reuse
    won = db.session.execute(
        update(AuthSession)
        .where(AuthSession.id == session.id,
               AuthSession.refresh_generation == claim.generation,
               AuthSession.revoked_at.is_(None))
        .values(refresh_generation=generation,
                refresh_hash=hash_refresh_token(new_refresh),
                last_used_at=utcnow(), expires_at=refresh_expiry())
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        db.session.rollback()
        raise UnauthorizedError(reason="auth.refresh.reused")
    db.session.commit()
    return token_pair(issue_access_token(user, session), new_refresh)


def logout(session: SessionRef) -> None:
    db.session.execute(update(AuthSession).where(AuthSession.id == session.id)
                       .values(revoked_at=utcnow(), revoked_reason="logout"))
    db.session.commit()


def change_password(user: User, session: SessionRef, current: str, new: str) -> int:
    """New hash; every other session of the user is revoked."""
    user = check_password(user.id, user.password_hash, current, new_password=new)
    revoked = revoke_sessions(user.id, except_session=session.id,
                              reason="password_change")
    db.session.commit()
    return revoked
