"""/v1/auth: email verification, password recovery, email change confirmation."""
from __future__ import annotations

from typing import Any, Callable

from flask import Blueprint, Response, current_app

from api.account import service
from api.account.schemas import (
    AcceptedSchema, EmailChangedSchema, EmailSchema, EmailVerifiedSchema, PasswordResetSchema,
    ResetPasswordSchema, TokenSchema, VerifyEmailSchema)
from api.auth.limits import by_address, limited
from api.body import input_body
from api.db import writes
from api.extensions import limiter
from api.openapi import documented
from api.responses import ok

bp = Blueprint("account", __name__, url_prefix="/v1/auth")


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


mail_limits = [limiter.limit(_setting("RATELIMIT_MAIL"), key_func=by_address,
                             scope="mail-addr")]
token_limits = [limiter.limit(_setting("RATELIMIT_ACCOUNT_TOKEN"), key_func=by_address,
                              scope="account-token-addr")]


@bp.post("/email/verify")
@documented(response=EmailVerifiedSchema, errors=(429,))
@limited(token_limits)
@writes
@input_body(VerifyEmailSchema)
def verify_email(body: dict[str, Any]) -> Response:
    """Verify the account's address with the mailed link's token, or the address and code."""
    service.verify_email(body.get("token"), body.get("email"), body.get("code"))
    return ok({"email_verified": True})


@bp.post("/email/resend")
@documented(response=AcceptedSchema, errors=(429,))
@limited(mail_limits)
@writes
@input_body(EmailSchema)
def resend_verification(body: dict[str, Any]) -> Response:
    """Send the verification mail again (the same answer for any address)."""
    service.request_verification(body["email"])
    return ok({"accepted": True})


@bp.post("/email/confirm")
@documented(response=EmailChangedSchema, errors=(429,))
@limited(token_limits)
@writes
@input_body(TokenSchema)
def confirm_email_change(body: dict[str, Any]) -> Response:
    """Confirm an email change with the link mailed to the new address."""
    return ok(service.confirm_email_change(body["token"]))


@bp.post("/password/forgot")
@documented(response=AcceptedSchema, errors=(429,))
@limited(mail_limits)
@writes
@input_body(EmailSchema)
def forgot_password(body: dict[str, Any]) -> Response:
    """Mail a password-reset link (the same answer, in the same time, for any address)."""
    service.forgot_password(body["email"])
    return ok({"accepted": True})


@bp.post("/password/reset")
@documented(response=PasswordResetSchema, errors=(429,))
@limited(token_limits)
@writes
@input_body(ResetPasswordSchema)
def reset_password(body: dict[str, Any]) -> Response:
    """Set a new password with a reset link's token: every session ends, nobody is signed in."""
    revoked = service.reset_password(body["token"], body["new_password"])
    return ok({"password_reset": True, "revoked_sessions": revoked})
