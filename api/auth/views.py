"""/v1/auth: register, login, refresh, logout, password change."""
from __future__ import annotations

from flask import Blueprint, Response

from api.auth import service, twofactor
from api.auth.decorators import auth_required, current_session, current_user
from api.auth.limits import limited, login_limits, refresh_limits, register_limits, verify_limits
from api.auth.schemas import (
    ChallengeSchema, LoggedOutSchema, LoginSchema, PasswordChangedSchema, PasswordChangeSchema,
    RefreshSchema, RegisterSchema, TokenPairSchema, TokenPairWithCodesSchema,
    TwoFactorDisableSchema, TwoFactorEnableSchema, TwoFactorSetupSchema, TwoFactorVerifySchema)
from api.http import load_body, ok
from api.openapi import documented
from api.users.schemas import UserSchema, own_user
from api.users.service import create_user

bp = Blueprint("auth", __name__, url_prefix="/v1/auth")


@bp.post("/register")
@documented(body=RegisterSchema, response=UserSchema)
@limited(register_limits)
def register() -> Response:
    """Create an account."""
    body = load_body(RegisterSchema)
    return ok(own_user.dump(create_user(body["username"], body["email"], body["password"])))


@bp.post("/login")
@documented(body=LoginSchema, response=(TokenPairSchema, ChallengeSchema), errors=(21, 22, 99))
@limited(login_limits)
def login() -> Response:
    """Log in with a username or email and a password (2FA users get a challenge)."""
    body = load_body(LoginSchema)
    return ok(service.login(body["login"], body["password"]))


@bp.post("/refresh")
@documented(body=RefreshSchema, response=TokenPairSchema, errors=(99,))
@limited(refresh_limits)
def refresh() -> Response:
    """Exchange a refresh token for a new token pair (the old one is spent)."""
    body = load_body(RefreshSchema)
    return ok(service.refresh(body["refresh_token"]))


@bp.post("/logout")
@documented(response=LoggedOutSchema)
@auth_required
def logout() -> Response:
    """Revoke the current session."""
    service.logout(current_session())
    return ok({"logged_out": True})


@bp.post("/password")
@documented(body=PasswordChangeSchema, response=PasswordChangedSchema, errors=(22,))
@auth_required
def change_password() -> Response:
    """Change the password; every other session is revoked."""
    body = load_body(PasswordChangeSchema)
    revoked = service.change_password(current_user(), current_session(),
                                      body["current_password"], body["new_password"])
    return ok({"password_changed": True, "revoked_sessions": revoked})


@bp.post("/2fa/verify")
@documented(body=TwoFactorVerifySchema, response=TokenPairSchema, errors=(99,))
@limited(verify_limits)
def verify_2fa() -> Response:
    """Complete a 2FA login with a TOTP code or a recovery code."""
    body = load_body(TwoFactorVerifySchema)
    return ok(twofactor.verify(body["challenge_token"], body["code"]))


@bp.post("/2fa/setup")
@documented(response=TwoFactorSetupSchema, errors=(88,))
@auth_required
def setup_2fa() -> Response:
    """Start 2FA setup: a new secret, pending until enabled."""
    return ok(twofactor.setup(current_user()))


@bp.post("/2fa/enable")
@documented(body=TwoFactorEnableSchema, response=TokenPairWithCodesSchema)
@auth_required
def enable_2fa() -> Response:
    """Enable 2FA with a code from the pending secret; returns recovery codes."""
    body = load_body(TwoFactorEnableSchema)
    return ok(twofactor.enable(current_user(), body["code"]))


@bp.post("/2fa/disable")
@documented(body=TwoFactorDisableSchema, response=TokenPairSchema, errors=(22,))
@auth_required
def disable_2fa() -> Response:
    """Disable 2FA (needs the password and a code)."""
    body = load_body(TwoFactorDisableSchema)
    return ok(twofactor.disable(current_user(), body["password"], body["code"]))
