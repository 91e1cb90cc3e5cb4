"""/v1/users: own account, public profiles, the admin list."""
from __future__ import annotations

from flask import Blueprint, Response

from api.auth.decorators import admin_required, auth_required, current_caller, current_user
from api.errors.exceptions import InvalidParameterError
from api.http import load_body, load_query, ok
from api.users import service
from api.openapi import documented
from api.users.schemas import (
    DeletedSchema, PasswordSchema, PublicUserSchema, UserListQuerySchema, UserSchema,
    UserUpdateSchema, own_user, public_user)

bp = Blueprint("users", __name__, url_prefix="/v1/users")


@bp.get("/me")
@documented(response=UserSchema)
@auth_required
def get_me() -> Response:
    """Your own account."""
    return ok(own_user.dump(current_caller()._mapping))


@bp.patch("/me")
@documented(body=UserUpdateSchema, response=UserSchema)
@auth_required
def update_me() -> Response:
    """Change your email or display name."""
    changes = load_body(UserUpdateSchema)
    return ok(own_user.dump(service.update_user(current_user(), changes)))


@bp.delete("/me")
@documented(body=PasswordSchema, response=DeletedSchema, errors=(22,))
@auth_required
def delete_me() -> Response:
    """Delete your account and all its sessions (needs the password)."""
    body = load_body(PasswordSchema)
    service.delete_account(current_user(), body["password"])
    return ok({"deleted": True})


@bp.get("/<user_id>")
@documented(response=PublicUserSchema, errors=(21,), path_params={"user_id": "user id"})
@auth_required
def get_user(user_id: str) -> Response:
    """A user's public profile."""
    parsed = service.parse_id(user_id)
    if parsed is None:
        raise InvalidParameterError("id must be a non-negative integer.",
                                    reason="request.param.invalid",
                                    fields={"id": ["Not a valid integer."]})
    return ok(public_user.dump(service.get_profile(parsed)._mapping))


@bp.get("")
@documented(query=UserListQuerySchema, response=UserSchema, many=True, paginated=True)
@admin_required
def list_users() -> Response:
    """Every account, oldest first (admins only)."""
    query = load_query(UserListQuerySchema)
    users, next_cursor = service.list_users(query["limit"], query.get("cursor"))
    return ok(own_user.dump(users, many=True),
              pagination={"limit": query["limit"], "next_cursor": next_cursor})
