"""Re-authentication before changing how an account is proven.

A stolen access token must not be enough to take an account over: setting
up or enabling 2FA (and later adding a passkey) needs the current password,
or a proof of this session younger than REAUTH_MAX_AGE (the password or the
second factor given at login, or a re-authentication). The proof's time is
the session's `auth_time`, read in the one query that checks the token, and
carried in its access tokens as the `auth_time` claim.

The password is checked by api.users.service.check_password, as every other
password is: argon2 outside any transaction, and the same failure counting.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app

from api.auth.sessions import mark_proven
from api.auth.tokens import SessionRef
from api.errors.exceptions import AuthRequiredError
from api.users.models import User, utcnow
from api.users.service import check_password


def proven_recently(session: SessionRef) -> bool:
    """Whether the session's last proof is younger than REAUTH_MAX_AGE."""
    max_age = timedelta(seconds=current_app.config["REAUTH_MAX_AGE"])
    return session.auth_time is not None and utcnow() - session.auth_time < max_age


def require_recent_proof(user: User, session: SessionRef, password: str | None) -> User:
    """The account (read again when a password was checked), once the caller
    has proven it: `password` when given (a wrong one is 22, even with a
    recent proof), else a recent proof (else 99 auth.reauth.required).

    A right password renews the session's proof (the caller commits); the
    session's next access token carries the new auth_time.
    """
    if password is None:
        if not proven_recently(session):
            raise AuthRequiredError(reason="auth.reauth.required")
        return user
    user = check_password(user.id, user.password_hash, password)
    mark_proven(session.id)
    return user
