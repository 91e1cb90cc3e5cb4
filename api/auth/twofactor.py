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
from sqlalchemy import bindparam, delete, or_, select, update

from api.auth import attempts, totp
from api.auth.models import LoginChallenge, RecoveryCode
from api.auth.reauth import require_recent_proof
from api.auth.sessions import open_session
from api.auth.tokens import CHALLENGE, SessionRef, decode_jwt, encode_jwt
from api.events import kinds
from api.events.service import record_event, record_failure
from api.errors.exceptions import (
    AuthRequiredError, InvalidParameterError)
from api.extensions import db
from api.users.models import User, utcnow
from api.users.service import check_password, revoke_sessions

MAX_WRONG_CODES = 5


def setup(user: User, session: SessionRef, password: str | None = None) -> dict[str, str]:
    """A fresh secret, pending until enable() proves the user has it. Needs
    the password or a recent proof (api/auth/reauth.py)."""
    if user.totp_enabled:
        raise InvalidParameterError(reason="auth.totp.already_enabled")
    user = require_recent_proof(user, session, password)
    secret = totp.new_secret()
    # compare-and-set: 2FA enabled meanwhile keeps its state
    written = db.session.execute(
        update(User).where(User.id == user.id, User.totp_enabled.is_(False))
        .values(totp_pending_secret=totp.seal(secret))
        .execution_options(synchronize_session=False)).rowcount
    if written != 1:
        db.session.rollback()
        raise InvalidParameterError(reason="auth.totp.already_enabled")
    db.session.commit()
    uri = totp.provisioning_uri(secret, user.email, current_app.config["TOTP_ISSUER"])
    return {"secret": secret, "otpauth_uri": uri}


def enable(user: User, session: SessionRef, code: str,
           password: str | None = None) -> dict[str, Any]:
    """2FA on, with a code of the pending secret: new recovery codes, every
    session revoked, a fresh `2f.` pair. Needs the password or a recent proof.
    """
    if user.totp_enabled:
        raise InvalidParameterError(reason="auth.totp.already_enabled")
    if not user.totp_pending_secret:
        raise InvalidParameterError(reason="auth.totp.not_pending")
    user = require_recent_proof(user, session, password)
    pending = user.totp_pending_secret
    if user.totp_enabled or not pending:  # changed while the password was checked
        raise InvalidParameterError(reason="auth.totp.already_enabled" if user.totp_enabled
                                    else "auth.totp.not_pending")
    attempts.check(user.id)
    step = totp.matching_step(totp.unseal(pending), code)
    if step is None:
        attempts.failed(user.id)
        raise _wrong_code()
    # compare-and-set on the 2FA state: of two concurrent enables (or an
    # enable racing a new setup) exactly one wins, and only its recovery
    # codes are written
    won = db.session.execute(
        update(User).where(User.id == user.id, User.totp_enabled.is_(False),
                           User.totp_pending_secret == pending)
        .values(totp_secret=pending,  # sealed as it is
                totp_pending_secret=None, totp_enabled=True, totp_last_step=step)
        .execution_options(synchronize_session="fetch")).rowcount
    if won != 1:
        user_id = user.id
        db.session.rollback()
        enabled = db.session.scalar(select(User.totp_enabled).where(User.id == user_id))
        raise InvalidParameterError(reason="auth.totp.already_enabled" if enabled
                                    else "auth.totp.setup_restarted")
    codes = _replace_recovery_codes(user)
    revoke_sessions(user.id, reason="2fa_enabled")
    tokens = open_session(user, two_factor=True)
    record_event(kinds.TWO_FACTOR_ENABLED, user.id, details={"by": "user"})
    db.session.commit()
    return {**tokens, "recovery_codes": codes}


def disable(user: User, password: str, code: str) -> dict[str, Any]:
    if not user.totp_enabled:
        raise InvalidParameterError(reason="auth.totp.not_enabled")
    user = check_password(user.id, user.password_hash, password)
    try:
        _accept_code(user, code)
    except InvalidParameterError:
        record_failure(kinds.SECOND_FACTOR_FAILED, user.id, details={"during": "2fa_disable"})
        raise
    if not totp.looks_like_totp(code):
        record_event(kinds.RECOVERY_CODE_USED, user.id)
    clear(user)
    revoke_sessions(user.id, reason="2fa_disabled")
    # TOTP off; a passkey keeps 2FA on (api/passkeys/service.py), and the new pair says so
    tokens = open_session(user, two_factor=user.two_factor_on)
    record_event(kinds.TWO_FACTOR_DISABLED, user.id, details={"by": "user"})
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
    """Admin override for a lost authenticator: 2FA off (TOTP and every
    passkey: the lost device may hold them), every session revoked."""
    from api.passkeys.service import remove_all

    clear(user)
    remove_all(user)
    revoked = revoke_sessions(user.id, reason="2fa_disabled")
    record_event(kinds.TWO_FACTOR_DISABLED, user.id, details={"by": "admin"})
    db.session.commit()
    return revoked


def rotate_secret_keys(batch: int = 500) -> int:
    """Re-encrypt every stored TOTP secret with the first key of
    TOTP_ENCRYPTION_KEYS (after a new key is put first, before the old one
    is dropped); how many were re-encrypted. A batch of users per commit: a
    run cut short leaves each secret readable under one key or the other,
    and running it again finishes the job.

    Each batch is found through ix_users_id_totp_sealed (only the accounts
    holding a secret, in id order after the last batch's), and written with
    one executemany per shape of row, not a statement per account."""
    done, after = 0, 0
    while True:
        rows = db.session.execute(
            select(_users.c.id, _users.c.totp_secret, _users.c.totp_pending_secret)
            .where(_SEALED, _users.c.id > after)
            .order_by(_users.c.id).limit(batch)).all()
        if not rows:
            return done
        shapes: dict[tuple[bool, bool], list[dict[str, Any]]] = {}
        for row in rows:
            secret, pending = row.totp_secret, row.totp_pending_secret
            shapes.setdefault((secret is not None, pending is not None), []).append(
                {"b_id": row.id, "b_secret": secret, "b_pending": pending,
                 "b_new_secret": secret and totp.reseal(secret),
                 "b_new_pending": pending and totp.reseal(pending)})
        for (has_secret, has_pending), params in shapes.items():
            changed = db.session.execute(_RESEAL, params).rowcount  # an executemany
            done += changed * (has_secret + has_pending)
        db.session.commit()
        after = rows[-1].id


_users = User.__table__
# the condition of ix_users_id_totp_sealed, as an expression (grouped
# when joined to another condition)
_SEALED = or_(_users.c.totp_secret.is_not(None), _users.c.totp_pending_secret.is_not(None))
# compare-and-set: a secret changed meanwhile (2FA set up, enabled or turned
# off) was written with the first key, or is gone; updated_at is left alone
# (not a change of the account)
_RESEAL = (
    update(_users)
    .where(_users.c.id == bindparam("b_id"),
           _users.c.totp_secret.is_not_distinct_from(bindparam("b_secret")),
           _users.c.totp_pending_secret.is_not_distinct_from(bindparam("b_pending")))
    .values(totp_secret=bindparam("b_new_secret"),
            totp_pending_secret=bindparam("b_new_pending"),
            updated_at=_users.c.updated_at)
)


def start_challenge(user: User) -> dict[str, Any]:
    """The first half of a 2FA login (caller commits)."""
    ttl = current_app.config["CHALLENGE_TOKEN_TTL"]
    challenge = LoginChallenge(id=uuid.uuid4().hex, user_id=user.id, attempts=0,
                               expires_at=utcnow() + timedelta(seconds=ttl))
    db.session.add(challenge)
    token = encode_jwt(str(user.id), challenge.id, CHALLENGE, True, ttl)
    return {"two_factor_required": True, "challenge_token": token, "expires_in": ttl}


def _live_challenge(challenge_token: str) -> LoginChallenge:
    """The login challenge a challenge token names, while it can be answered."""
    try:
        claims = decode_jwt(challenge_token, CHALLENGE)
    except AuthRequiredError:
        raise AuthRequiredError(reason="auth.challenge.invalid") from None
    challenge = db.session.get(LoginChallenge, claims["sid"])
    if (challenge is None or challenge.consumed_at is not None
            or challenge.expires_at <= utcnow() or str(challenge.user_id) != claims["sub"]):
        raise AuthRequiredError(reason="auth.challenge.invalid")
    if challenge.attempts >= MAX_WRONG_CODES:
        raise AuthRequiredError(reason="auth.challenge.exhausted")
    user = challenge.user
    if user.is_blocked:
        record_failure(kinds.SIGN_IN_FAILED, user.id, details={"reason": "blocked"})
        raise AuthRequiredError(reason="auth.account.blocked")
    if not user.two_factor_on:
        raise AuthRequiredError(reason="auth.challenge.invalid")
    return challenge


def challenge_user(challenge_token: str) -> User:
    """The account of a live login challenge (for passkey options)."""
    return _live_challenge(challenge_token).user


def verify(challenge_token: str, code: str | None,
           credential: dict[str, Any] | None = None) -> dict[str, Any]:
    """The second half: a TOTP or recovery code, or a passkey's answer
    (api/passkeys/), turns the challenge into a session."""
    from api.passkeys import service as passkeys  # passkeys builds on this module

    challenge = _live_challenge(challenge_token)
    user = challenge.user
    if code is not None and not user.totp_enabled:  # a passkey-only account
        raise InvalidParameterError(reason="auth.totp.not_enabled")
    attempts.check(user.id)  # the account is proven by the token's signature
    _count_attempt(challenge.id)
    try:
        if credential is not None:
            passkeys.second_factor(user, credential)
        else:
            _accept_code(user, code)  # type: ignore[arg-type]
    except InvalidParameterError:
        # the attempt stays counted, the failure recorded; _accept_code wrote nothing
        record_event(kinds.SECOND_FACTOR_FAILED, user.id, details={"during": "sign_in"})
        db.session.commit()
        raise
    consumed = db.session.execute(
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge.id, LoginChallenge.consumed_at.is_(None))
        .values(consumed_at=utcnow())
    ).rowcount
    if consumed != 1:
        db.session.rollback()
        raise AuthRequiredError(reason="auth.challenge.invalid")
    recovery = code is not None and not totp.looks_like_totp(code)
    if recovery:
        record_event(kinds.RECOVERY_CODE_USED, user.id)
    method = "passkey" if code is None else "recovery_code" if recovery else "totp"
    tokens = open_session(user, two_factor=True, sign_in=method)
    db.session.commit()
    attempts.passed(user.id)  # a completed login forgets the account's failures
    return tokens


def _count_attempt(challenge_id: str) -> None:
    """Spend one of the challenge's attempts before its code is checked, in
    one conditional UPDATE: parallel guesses queue on the row (PostgreSQL's
    row lock, SQLite's write lock) and each sees the others' counts, so no
    more than MAX_WRONG_CODES codes are ever checked. A right code spends
    one too: five attempts, of which the fifth may be the right one."""
    counted = db.session.execute(
        update(LoginChallenge)
        .where(LoginChallenge.id == challenge_id, LoginChallenge.consumed_at.is_(None),
               LoginChallenge.attempts < MAX_WRONG_CODES)
        .values(attempts=LoginChallenge.attempts + 1)
        .execution_options(synchronize_session=False)).rowcount
    if counted != 1:
        db.session.rollback()
        consumed = db.session.scalar(select(LoginChallenge.consumed_at)
                                     .where(LoginChallenge.id == challenge_id))
        raise AuthRequiredError(reason="auth.challenge.invalid" if consumed is not None
                                else "auth.challenge.exhausted")


def _accept_code(user: User, code: str) -> None:
    """Accept a TOTP code (once per step) or an unused recovery code, else 88;
    a wrong code is a failure for the account (the caller ran
    attempts.check before)."""
    if totp.looks_like_totp(code):
        step = totp.matching_step(totp.unseal(user.totp_secret), code) \
            if user.totp_secret else None
        if step is None:
            attempts.failed(user.id)
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
        attempts.failed(user.id)
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
