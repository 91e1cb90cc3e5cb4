"""One-time account tokens: issued when their message is rendered, redeemed once.

A token is 32 random bytes (256 bits), URL-safe; only its SHA-256 is stored.
Issuing one voids the account's earlier unused tokens of the same purpose
(the newest mail is the one that works). A reset token also dies when the
account's password changes by any path: it carries a digest of the
password hash it was issued under.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from api.account.models import RESET_PASSWORD, VERIFY_EMAIL, AccountToken
from api.errors.exceptions import InvalidParameterError
from api.extensions import db
from api.users.models import User, utcnow

# how long each kind of link works (SPEC §11: a reset link 15 minutes)
LIFETIMES = {VERIFY_EMAIL: timedelta(hours=48), RESET_PASSWORD: timedelta(minutes=15),
             "change_email": timedelta(hours=24)}
CODE_DIGITS = 6
# wrong codes a verification token takes before it is void (then: resend)
MAX_CODE_FAILURES = 5


@dataclass(frozen=True)
class Issued:
    token: str
    code: str | None


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def code_digest(user_id: int, code: str) -> str:
    """A short code's HMAC, keyed by SECRET_KEY and bound to the account."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{user_id}:{code}".encode(), hashlib.sha256).hexdigest()


def password_stamp(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()


def void_tokens(user_id: int, purpose: str) -> None:
    """Every unused token of this purpose is spent (the caller commits)."""
    db.session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user_id, AccountToken.purpose == purpose,
               AccountToken.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False))


def issue(user: User, purpose: str, *, new_email: str | None = None) -> Issued:
    """A new token (and a code, for verification); earlier ones of the
    purpose are void. The caller commits."""
    void_tokens(user.id, purpose)
    token = secrets.token_urlsafe(32)
    code = (f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
            if purpose == VERIFY_EMAIL else None)
    now = utcnow()
    db.session.add(AccountToken(
        user_id=user.id, purpose=purpose, token_hash=digest(token),
        code_hash=code_digest(user.id, code) if code else None, new_email=new_email,
        password_stamp=password_stamp(user.password_hash) if purpose == RESET_PASSWORD
        else None,
        created_at=now, expires_at=now + LIFETIMES[purpose]))
    return Issued(token, code)


def bad_token(reason: str) -> InvalidParameterError:
    from api.errors.catalog import reason_of

    message = reason_of(reason).description
    return InvalidParameterError(message, reason=reason, fields={"token": [message]})


def find(token: str, purpose: str) -> tuple[AccountToken, User]:
    """The live token of `purpose` and its account; else 88: invalid,
    expired or spent (used, superseded, or the password changed since),
    each its own reason. Nothing is marked: see `use_atomically`."""
    row = db.session.execute(
        select(AccountToken).where(AccountToken.token_hash == digest(token),
                                   AccountToken.purpose == purpose)).scalar_one_or_none()
    if row is None:
        raise bad_token("account.token.invalid")
    check_live(row)
    user = db.session.get(User, row.user_id)
    if user is None:
        raise bad_token("account.token.invalid")
    if row.password_stamp is not None and row.password_stamp != password_stamp(
            user.password_hash):
        raise bad_token("account.token.spent")
    return row, user


def redeem(token: str, purpose: str) -> tuple[AccountToken, User]:
    """`find`, then the token used (once, even against a concurrent
    redeem); the caller commits."""
    row, user = find(token, purpose)
    use_atomically(row)
    return row, user


def check_live(row: AccountToken) -> None:
    if row.used_at is not None:
        raise bad_token("account.token.spent")
    if row.expires_at <= utcnow():
        raise bad_token("account.token.expired")


def use_atomically(row: AccountToken) -> None:
    """Mark used only if still unused: of two concurrent redeems, one wins
    (the other answers spent). The caller commits."""
    won = db.session.execute(
        update(AccountToken).where(AccountToken.id == row.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if won != 1:
        raise bad_token("account.token.spent")
