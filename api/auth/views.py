"""/v1/auth: register, login, refresh, logout, password change."""
from __future__ import annotations

from flask import Blueprint, Response

from api.auth import service
from api.auth.decorators import auth_required, current_session, current_user
from api.auth.schemas import LoginSchema, PasswordChangeSchema, RefreshSchema, RegisterSchema
from api.http import load_body, ok
from api.users.schemas import own_user
from api.users.service import create_user

bp = Blueprint("auth", __name__, url_prefix="/v1/auth")


@bp.post("/register")
def register() -> Response:
    """Create an account."""
    body = load_body(RegisterSchema())
    return ok(own_user.dump(create_user(body["username"], body["email"], body["password"])))


@bp.post("/login")
def login() -> Response:
    """Log in with a username or email and a password."""
    body = load_body(LoginSchema())
    return ok(service.login(body["login"], body["password"]))


@bp.post("/refresh")
def refresh() -> Response:
    """Exchange a refresh token for a new token pair (the old one is spent)."""
    body = load_body(RefreshSchema())
    return ok(service.refresh(body["refresh_token"]))


@bp.post("/logout")
@auth_required
def logout() -> Response:
    """Revoke the current session."""
    service.logout(current_session())
    return ok({"logged_out": True})


@bp.post("/password")
@auth_required
def change_password() -> Response:
    """Change the password; every other session is revoked."""
    body = load_body(PasswordChangeSchema())
    revoked = service.change_password(current_user(), current_session(),
                                      body["current_password"], body["new_password"])
    return ok({"password_changed": True, "revoked_sessions": revoked})
