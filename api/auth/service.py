"""Login, sessions, refresh rotation, logout and password change.

Each public function commits once or raises an AppError; the global
handler rolls back whatever a failed one had begun.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select, update

from api.auth import attempts, twofactor
from api.auth.attempts import storable
from api.auth.limits import hit_proven
from api.auth.models import AuthSession
from api.auth.passwords import passwords
from api.auth.sessions import mark_proven, open_session, refresh_expiry
from api.auth.tokens import (
    SessionRef, hash_refresh_token, issue_access_token, new_refresh_token, parse_refresh_token,
    token_pair)
from api.db import end_read_transaction
from api.errors.exceptions import (
    AuthRequiredError, PasswordNotMatchError, UserNotExistsError)
from api.events import kinds
from api.events.service import record_event, record_failure
from api.extensions import db
from api.users.models import User, utcnow
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
        attempts.check(unknown_login=login)
        end_read_transaction()  # as check_password does before its hash
        passwords().spend_one_verification(password)
        attempts.failed(unknown_login=login)
        if generic:
            raise PasswordNotMatchError(reason="auth.login.invalid_credentials")
        raise UserNotExistsError(reason="auth.login.unknown_user")
    # a hash made with older cost settings is upgraded, with the same password
    upgrade = password if passwords().needs_rehash(found.password_hash) else None
    try:
        user = check_password(found.id, found.password_hash, password, new_password=upgrade)
    except PasswordNotMatchError:
        record_failure(kinds.SIGN_IN_FAILED, found.id, details={"reason": "wrong_password"})
        if generic:
            raise PasswordNotMatchError(reason="auth.login.invalid_credentials") from None
        raise
    if user.is_blocked:
        record_failure(kinds.SIGN_IN_FAILED, user.id, details={"reason": "blocked"})
        raise AuthRequiredError(reason="auth.account.blocked")
    if current_app.config["REQUIRE_VERIFIED_EMAIL"] and not user.email_verified:
        record_failure(kinds.SIGN_IN_FAILED, user.id, details={"reason": "email_unverified"})
        raise AuthRequiredError(reason="auth.email.unverified")
    return user


def login(login_name: str, password: str) -> dict[str, Any]:
    """Tokens, or a 2FA challenge when the account has two-factor enabled."""
    user = check_credentials(login_name, password)
    if user.two_factor_on:  # TOTP or a passkey answers the challenge
        result = twofactor.start_challenge(user)
    else:
        result = open_session(user, sign_in="password")
        attempts.passed(user.id)  # a completed login forgets the account's failures
    db.session.commit()
    return result


def refresh(refresh_token: str) -> dict[str, Any]:
    """Rotate: the presented token is spent, a new pair is issued.

    A token the server issued for an earlier generation has been used
    already: someone holds a copy, so the whole session is revoked. Except
    the previous generation's token presented within
    REFRESH_REUSE_GRACE_SECONDS of its rotation: that is a client's second
    refresh racing its first (two tabs, a retry), and revoking would kill
    the pair the winner just received; it answers superseded and changes
    nothing.
    """
    claim = parse_refresh_token(refresh_token)
    # per session, counted only once the token's MAC proves the server issued it
    hit_proven("RATELIMIT_REFRESH_ACCOUNT", "refresh-session", storable(claim.session_id))
    session = db.session.get(AuthSession, claim.session_id)
    if session is None:
        raise AuthRequiredError(reason="auth.refresh.invalid")
    # blocking revokes the sessions too; the client must hear "blocked"
    if session.user.is_blocked:
        raise AuthRequiredError(reason="auth.account.blocked")
    if session.revoked_at is not None or session.expires_at <= utcnow():
        raise AuthRequiredError(reason="auth.refresh.invalid")
    if (claim.generation != session.refresh_generation
            or hash_refresh_token(refresh_token) != session.refresh_hash):
        if _just_rotated(session, claim.generation):
            raise AuthRequiredError(reason="auth.refresh.superseded")
        session.revoked_at = utcnow()
        session.revoked_reason = "refresh_reuse"
        record_event(kinds.REFRESH_TOKEN_REUSED, session.user_id, session_id=session.id)
        db.session.commit()
        raise AuthRequiredError(reason="auth.refresh.reused")
    user = session.user
    if session.two_factor != user.two_factor_on:
        raise AuthRequiredError(reason="auth.token.2fa_mismatch")
    generation = claim.generation + 1
    new_refresh = new_refresh_token(session.id, generation)
    # compare-and-set on the generation: of two concurrent refreshes with one
    # token, exactly one wins; the other was superseded by it
    now = utcnow()
    won = db.session.execute(
        update(AuthSession)
        .where(AuthSession.id == session.id,
               AuthSession.refresh_generation == claim.generation,
               AuthSession.revoked_at.is_(None))
        .values(refresh_generation=generation,
                refresh_hash=hash_refresh_token(new_refresh),
                last_used_at=now, rotated_at=now,
                expires_at=refresh_expiry(session.created_at))
        .execution_options(synchronize_session="fetch")
    ).rowcount
    if won != 1:
        db.session.rollback()
        # revoked meanwhile (logout, a reuse elsewhere), or rotated by the
        # race's winner
        if db.session.scalar(select(AuthSession.revoked_at)
                             .where(AuthSession.id == claim.session_id)) is not None:
            raise AuthRequiredError(reason="auth.refresh.invalid")
        raise AuthRequiredError(reason="auth.refresh.superseded")
    db.session.commit()
    return token_pair(issue_access_token(user, session), new_refresh)


def _just_rotated(session: AuthSession, generation: int) -> bool:
    """Whether a (MAC-checked) token of `generation` is the one this session
    rotated away from within the grace window."""
    grace = current_app.config["REFRESH_REUSE_GRACE_SECONDS"]
    return (generation == session.refresh_generation - 1
            and session.rotated_at is not None
            and utcnow() - session.rotated_at <= timedelta(seconds=grace))


LOGOUT_SCOPES = ("current", "others", "all")


def logout(user_id: int, session: SessionRef, scope: str = "current") -> int:
    """End the caller's session (current), every other one of theirs
    (others), or all of them; how many were live."""
    query = update(AuthSession).where(AuthSession.user_id == user_id,
                                      AuthSession.revoked_at.is_(None))
    if scope == "current":
        query = query.where(AuthSession.id == session.id)
    elif scope == "others":
        query = query.where(AuthSession.id != session.id)
    ended = db.session.execute(query.values(revoked_at=utcnow(), revoked_reason="logout")
                               .execution_options(synchronize_session=False)).rowcount or 0
    record_event(kinds.LOGOUT, user_id, details={"scope": scope, "sessions": ended})
    db.session.commit()
    return ended


def change_password(user: User, session: SessionRef, current: str, new: str) -> int:
    """New hash; every other session of the user is revoked, and this one's
    proof renewed (the current password was just given)."""
    user = check_password(user.id, user.password_hash, current, new_password=new)
    revoked = revoke_sessions(user.id, except_session=session.id,
                              reason="password_change")
    mark_proven(session.id)
    record_event(kinds.PASSWORD_CHANGED, user.id)
    db.session.commit()
    return revoked
