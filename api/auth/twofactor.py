"""Two-factor authentication: setup, enable, disable, and the login challenge.

Each public function commits once or raises an AppError. Where a failure
must still be remembered (a wrong code counts against the challenge), it
is committed before the error is raised.
"""
from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, or_, select, update

from api.auth import totp
from api.auth.sessions import open_session
from api.auth.tokens import CHALLENGE, decode_jwt, encode_jwt
from api.errors.exceptions import (
    InvalidParameterError, UnauthorizedError)
from api.extensions import db
from api.users.models import LoginChallenge, RecoveryCode, User, utcnow
from api.users.service import check_password, revoke_sessions

MAX_WRONG_CODES = 5


def setup(user: User) -> dict[str, str]:
    """A fresh secret, pending until enable() proves the user has it."""
    if user.totp_enabled:
        raise InvalidParameterError(reason="auth.totp.already_enabled")
    secret = totp.new_secret()
    user.totp_pending_secret = totp.seal(secret)
    db.session.commit()
    uri = totp.provisioning_uri(secret, user.email, current_app.config["TOTP_ISSUER"])
    return {"secret": secret, "otpauth_uri": uri}


def enable(user: User, code: str) -> dict[str, Any]:
    if user.totp_enabled:
        raise InvalidParameterError(reason="auth.totp.already_enabled")
    if not user.totp_pending_secret:
        raise InvalidParameterError(reason="auth.totp.not_pending")
    step = totp.matching_step(totp.unseal(user.totp_pending_secret), code)
    if step is None:
        raise _wrong_code()
    user.totp_secret = user.totp_pending_secret  # sealed as it is
    user.totp_pending_secret = None
    user.totp_enabled = True
    user.totp_last_step = step
    codes = _replace_recovery_codes(user)
    revoke_sessions(user.id, reason="2fa_enabled")
    tokens = open_session(user, two_factor=True)
    db.session.commit()
    return {**tokens, "recovery_codes": codes}


def disable(user: User, password: str, code: str) -> dict[str, Any]:
    if not user.totp_enabled:
        raise InvalidParameterError(reason="auth.totp.not_enabled")
    user = check_password(user.id, user.password_hash, password)
    _accept_code(user, code)
    clear(user)
    revoke_sessions(user.id, reason="2fa_disabled")
    tokens = open_session(user, two_factor=False)
    db.session.commit()
    return tokens


def clear(user: User) -> None:
    """Turn 2FA off and forget its secrets (caller commits)."""
    user.totp_enabled = False
    user.totp_secret = None
    user.totp_pending_secret = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def admin_disable(user: User) -> int:
    """Admin override for a lost authenticator: 2FA off, every session revoked."""
    clear(user)
    revoked = revoke_sessions(user.id, reason="2fa_disabled")
    db.session.commit()
    return revoked


def rotate_secret_keys(batch: int = 500) -> int:
    """Re-encrypt every stored TOTP secret with the first key of
    TOTP_ENCRYPTION_KEYS (after a new key is put first, before the old one
    is dropped); how many were re-encrypted. A batch of users per commit: a
    run cut short leaves each secret readable under one key or the other,
    and running it again finishes the job."""
    sealed = or_(User.totp_secret.is_not(None), User.totp_pending_secret.is_not(None))
    done, after = 0, 0
    while True:
        rows = db.session.execute(
            select(User.id, User.totp_secret, User.totp_pending_secret)
            .where(sealed, User.id > after).order_by(User.id).limit(batch)).all()
        if not rows:
            return done
        for row in rows:
            secret, pending = row.totp_secret, row.totp_pending_secret
            # compare-and-set: a secret changed meanwhile (2FA set up, enabled
            # or turned off) was written with the first key, or is gone
            changed = db.session.execute(
                update(User).where(User.id == row.id, _is(User.totp_secret, secret),
                                   _is(User.totp_pending_secret, pending))
                .values(totp_secret=secret and totp.reseal(secret),
                        totp_pending_secret=pending and totp.reseal(pending),
                        updated_at=User.updated_at)  # not a change of the account
                .execution_options(synchronize_session=False)).rowcount
            done += changed * ((secret is not None) + (pending is not None))
        db.session.commit()
        after = rows[-1].id


def _is(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def start_challenge(user: User) -> dict[str, Any]:
    """The first half of a 2FA login (caller commits)."""
    ttl = current_app.config["CHALLENGE_TOKEN_TTL"]
    challenge = LoginChallenge(id=uuid.uuid4().hex, user_id=user.id, attempts=0,
                               expires_at=utcnow() + timedelta(seconds=ttl))
    db.session.add(challenge)
    token = encode_jwt(str(user.id), challenge.id, CHALLENGE, True, ttl)
    return {"two_factor_required": True, "challenge_token": token, "expires_in": ttl}


def verify(challenge_token: str, code: str) -> dict[str, Any]:
    """The second half: a TOTP or recovery code turns the challenge into a session."""
    try:
        claims = decode_jwt(challenge_token, CHALLENGE)
    except UnauthorizedError:
        raise UnauthorizedError(reason="auth.challenge.invalid") from None
    challenge = db.session.get(LoginChallenge, claims["sid"])
    if (challenge is None or challenge.consumed_at is not None
            or challenge.expires_at <= utcnow() or str(challenge.user_id) != claims["sub"]):
        raise UnauthorizedError(reason="auth.challenge.invalid")
    if challenge.attempts >= MAX_WRONG_CODES:
        raise UnauthorizedError(reason="auth.challenge.exhausted")
    user = challenge.user
    if user.is_blocked:
        raise UnauthorizedError(reason="auth.account.blocked")
    if not user.totp_enabled:
        raise UnauthorizedError(reason="auth.challenge.invalid")
    try:
        _accept_code(user, code)
    except InvalidParameterError:
        db.session.rollback()
        # counted atomically, so parallel guesses cannot exceed the limit
        db.session.execute(update(LoginChallenge)
                           .where(LoginChallenge.id == challenge.id)
                           .values(attempts=LoginChallenge.attempts + 1))
        db.session.commit()
        raise
    consumed = db.session.execute(
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge.id, LoginChallenge.consumed_at.is_(None),
               LoginChallenge.attempts < MAX_WRONG_CODES)
        .values(consumed_at=utcnow())
    ).rowcount
    if consumed != 1:
        db.session.rollback()
        raise UnauthorizedError(reason="auth.challenge.invalid")
    tokens = open_session(user, two_factor=True)
    db.session.commit()
    return tokens


def _accept_code(user: User, code: str) -> None:
    """Accept a TOTP code (once per step) or an unused recovery code, else 88."""
    if totp.looks_like_totp(code):
        step = totp.matching_step(totp.unseal(user.totp_secret), code) \
            if user.totp_secret else None
        if step is None:
            raise _wrong_code()
        # compare-and-set on the last accepted step: replay memory shared by
        # every worker, and two racing uses of one code cannot both win
        won = db.session.execute(
            update(User)
            .where(User.id == user.id,
                   or_(User.totp_last_step.is_(None), User.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        ).rowcount
        if won != 1:
            raise InvalidParameterError(reason="auth.totp.replayed",
                                        fields={"code": ["This code was already used."]})
        user.totp_last_step = step
        return
    used = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id,
               RecoveryCode.code_hash == totp.hash_recovery_code(code),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
    ).rowcount
    if used < 1:
        raise _wrong_code()


def _wrong_code() -> InvalidParameterError:
    return InvalidParameterError(reason="auth.totp.invalid",
                                 fields={"code": ["The code is incorrect."]})


def _replace_recovery_codes(user: User) -> list[str]:
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    db.session.add_all(RecoveryCode(user_id=user.id, code_hash=totp.hash_recovery_code(c))
                       for c in codes)
    return codes


def remaining_recovery_codes(user: User) -> int:
    return len(db.session.execute(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id,
                                      RecoveryCode.used_at.is_(None))).all())
