"""Email verification, password recovery and email change.

Each public function commits once or raises an AppError. Mail is queued in
the same transaction (api.mail.courier.queue) and sent after commit; a
link's token is issued when its message is rendered (api/mail/render.py).
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select

from api.account import tokens
from api.account.models import CHANGE_EMAIL, RESET_PASSWORD, VERIFY_EMAIL, AccountToken
from api.auth.passwords import passwords
from api.db import end_read_transaction
from api.errors.catalog import reason_of
from api.errors.exceptions import InvalidParameterError
from api.events import kinds
from api.events.service import record_event
from api.extensions import db
from api.mail.courier import queue
from api.users.models import User, utcnow
from api.users.service import ensure_email_free, revoke_sessions


def request_verification(email: str) -> None:
    """Queue a verification mail for the account with this address, if it
    exists and is unverified; the answer and the work are the same either
    way (the courier resolves the address)."""
    queue("verify_email", to_address=email)
    db.session.commit()


def _code_error() -> InvalidParameterError:
    message = reason_of("account.code.invalid").description
    return InvalidParameterError(message, reason="account.code.invalid",
                                 fields={"code": [message]})


def verify_email(token: str | None = None, email: str | None = None,
                 code: str | None = None) -> None:
    """Mark the address verified, by the mailed link's token or by the
    address and the mailed code (a few wrong codes void it: resend)."""
    if token is not None:
        _row, user = tokens.redeem(token, VERIFY_EMAIL)
    else:
        user = db.session.execute(select(User).where(
            User.email_key == str(email).lower())).scalar_one_or_none()
        row = None if user is None else db.session.execute(
            select(AccountToken).where(AccountToken.user_id == user.id,
                                       AccountToken.purpose == VERIFY_EMAIL,
                                       AccountToken.used_at.is_(None),
                                       AccountToken.expires_at > utcnow())
            .order_by(AccountToken.id.desc()).limit(1)).scalar_one_or_none()
        if user is None or row is None:
            raise _code_error()
        if row.code_hash != tokens.code_digest(user.id, str(code)):
            row.failed_codes += 1
            if row.failed_codes >= tokens.MAX_CODE_FAILURES:
                row.used_at = utcnow()
            db.session.commit()  # the count survives the error (the one commit)
            raise _code_error()
        tokens.use_atomically(row)
    user.email_verified = True
    tokens.void_tokens(user.id, VERIFY_EMAIL)
    db.session.commit()


def forgot_password(email: str) -> None:
    """Queue a reset mail for the account with this address. The request
    does the same work whether the address has an account or not (one
    outbox row); the courier resolves it, and sends nothing for none."""
    queue("password_reset", to_address=email)
    db.session.commit()


def reset_password(token: str, new_password: str) -> int:
    """Set the password by a reset token: every session revoked, a notice
    mailed, nobody signed in, 2FA left as it is. How many sessions ended."""
    _row, user = tokens.find(token, RESET_PASSWORD)
    old_hash = user.password_hash
    end_read_transaction()  # argon2 with no transaction open
    new_hash = passwords().hash(new_password)
    row, user = tokens.find(token, RESET_PASSWORD)  # again: used or changed meanwhile?
    if user.password_hash != old_hash:
        raise tokens.bad_token("account.token.spent")
    tokens.use_atomically(row)
    tokens.void_tokens(user.id, RESET_PASSWORD)
    user.password_hash = new_hash
    user.email_verified = True  # the link reached the address
    revoked = revoke_sessions(user.id, reason="password_reset")
    record_event(kinds.PASSWORD_RESET, user.id, details={"by": "recovery"})
    db.session.commit()
    return revoked


def request_email_change(user: User, new_email: str) -> None:
    """Mail a confirmation link to the new address (the caller checked the
    password and that the address is free, and commits)."""
    queue("confirm_email_change", user_id=user.id, params={"new_email": new_email})
    record_event(kinds.EMAIL_CHANGE_REQUESTED, user.id)


def confirm_email_change(token: str) -> dict[str, Any]:
    """The new address takes effect; the old one gets a notice."""
    row, user = tokens.redeem(token, CHANGE_EMAIL)
    new_email = row.new_email or ""
    ensure_email_free(new_email, exclude_id=user.id)
    old_email = user.email
    user.set_email(new_email)
    user.email_verified = True
    for purpose in (CHANGE_EMAIL, RESET_PASSWORD, VERIFY_EMAIL):  # mailed to the old address
        tokens.void_tokens(user.id, purpose)
    record_event(kinds.EMAIL_CHANGE_CONFIRMED, user.id)
    queue("email_changed", user_id=user.id, to_address=old_email,
          params={"new_email": new_email})
    db.session.commit()
    return {"email_changed": True, "email": new_email}


def send_reset(user: User) -> None:
    """Admin: mail the account a reset link (the admin never sees it)."""
    queue("password_reset", user_id=user.id)
    db.session.commit()
