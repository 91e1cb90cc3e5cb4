"""/v1/auth: register, login, refresh, logout, password change."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from api.auth import devices, service, twofactor
from api.auth.decorators import auth_required, current_caller, current_session, current_user
from api.auth.limits import limited, login_limits, refresh_limits, register_limits, verify_limits
from api.auth.schemas import (
    ChallengeSchema, LoggedOutSchema, LoginSchema, LogoutSchema, SessionRevokedSchema,
    SessionSchema, PasswordChangedSchema, PasswordChangeSchema,
    RefreshSchema, RegisterSchema, TokenPairSchema, TokenPairWithCodesSchema,
    TwoFactorDisableSchema, TwoFactorEnableSchema, TwoFactorSetupRequestSchema,
    TwoFactorSetupSchema, TwoFactorVerifySchema)
from api.body import input_body
from api.db import writes
from api.negotiation import language
from api.openapi import documented
from api.responses import ok
from api.users.schemas import UserSchema, own_user
from api.users.service import create_user

bp = Blueprint("auth", __name__, url_prefix="/v1/auth")
session_list = SessionSchema(many=True)  # a settings page's read: Schema.dump is fine


@bp.post("/register")
@documented(response=UserSchema)
@limited(register_limits)
@writes
@input_body(RegisterSchema)
def register(body: dict[str, Any]) -> Response:
    """Create an account."""
    return ok(own_user.dump(create_user(body["username"], body["email"], body["password"],
                                        locale=language(), verify_email=True)))


@bp.post("/login")
@documented(response=(TokenPairSchema, ChallengeSchema), errors=(21, 22, 99))
@limited(login_limits)
@writes
@input_body(LoginSchema)
def login(body: dict[str, Any]) -> Response:
    """Log in with a username or email and a password (2FA users get a challenge)."""
    return ok(service.login(body["login"], body["password"]))


@bp.post("/refresh")
@documented(response=TokenPairSchema, errors=(99,))
@limited(refresh_limits)
@writes
@input_body(RefreshSchema)
def refresh(body: dict[str, Any]) -> Response:
    """Exchange a refresh token for a new token pair (the old one is spent)."""
    return ok(service.refresh(body["refresh_token"]))


@bp.post("/logout")
@documented(response=LoggedOutSchema)
@auth_required
@writes
@input_body(LogoutSchema)
def logout(body: dict[str, Any]) -> Response:
    """End this session, every other one of yours, or all (`scope`; no body: this one)."""
    ended = service.logout(current_caller().id, current_session(), body["scope"])
    return ok({"logged_out": True, "revoked_sessions": ended})


@bp.get("/sessions")
@documented(response=SessionSchema, many=True)
@auth_required
def list_sessions() -> Response:
    """Where you are signed in: your live sessions, the current one marked."""
    return ok(session_list.dump(devices.list_sessions(current_caller().id,
                                                      current_session().id)))


@bp.delete("/sessions/<session_id>")
@documented(response=SessionRevokedSchema, path_params={"session_id": "a session's id"})
@auth_required
@writes
def revoke_session(session_id: str) -> Response:
    """End one of your sessions: its tokens stop working at once."""
    devices.revoke_session(current_caller().id, session_id)
    return ok({"revoked": True})


@bp.post("/password")
@documented(response=PasswordChangedSchema, errors=(22, 429))
@auth_required
@writes
@input_body(PasswordChangeSchema)
def change_password(body: dict[str, Any]) -> Response:
    """Change the password; every other session is revoked."""
    revoked = service.change_password(current_user(), current_session(),
                                      body["current_password"], body["new_password"])
    return ok({"password_changed": True, "revoked_sessions": revoked})


@bp.post("/2fa/verify")
@documented(response=TokenPairSchema, errors=(99,))
@limited(verify_limits)
@writes
@input_body(TwoFactorVerifySchema)
def verify_2fa(body: dict[str, Any]) -> Response:
    """Complete a 2FA login with a TOTP code, a recovery code, or a passkey's
    answer (`credential`, to POST /v1/auth/2fa/passkey/options)."""
    return ok(twofactor.verify(body["challenge_token"], body.get("code"),
                               body.get("credential")))


@bp.post("/2fa/setup")
@documented(response=TwoFactorSetupSchema, errors=(22, 88, 429))
@auth_required
@writes
@input_body(TwoFactorSetupRequestSchema)
def setup_2fa(body: dict[str, Any]) -> Response:
    """Start 2FA setup: a new secret, pending until enabled. Needs the
    current password, unless this session signed in in the last 5 minutes."""
    return ok(twofactor.setup(current_user(), current_session(), body.get("password")))


@bp.post("/2fa/enable")
@documented(response=TokenPairWithCodesSchema, errors=(22, 429))
@auth_required
@writes
@input_body(TwoFactorEnableSchema)
def enable_2fa(body: dict[str, Any]) -> Response:
    """Enable 2FA with a code from the pending secret; returns recovery codes.
    Needs the current password, unless this session signed in in the last 5 minutes."""
    return ok(twofactor.enable(current_user(), current_session(), body["code"],
                               body.get("password")))


@bp.post("/2fa/disable")
@documented(response=TokenPairSchema, errors=(22, 429))
@auth_required
@writes
@input_body(TwoFactorDisableSchema)
def disable_2fa(body: dict[str, Any]) -> Response:
    """Disable 2FA (needs the password and a code)."""
    return ok(twofactor.disable(current_user(), body["password"], body["code"]))
