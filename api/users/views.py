"""/v1/users: own account and its events, public profiles, the admin list."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from api.auth.decorators import (
    admin_required, auth_required, current_caller, current_session, current_user)
from api.body import input_body, input_query
from api.db import writes
from api.errors.exceptions import InvalidParameterError
from api.events.schemas import EventListQuerySchema, EventSchema
from api.events.service import list_events
from api.openapi import documented
from api.responses import ok
from api.users import service
from api.users.schemas import (
    DeletedSchema, PasswordSchema, PublicUserSchema, UserListQuerySchema, UserSchema,
    UserUpdateSchema, own_user, public_user)

bp = Blueprint("users", __name__, url_prefix="/v1/users")
event_list = EventSchema(many=True)


@bp.get("/me")
@documented(response=UserSchema)
@auth_required
def get_me() -> Response:
    """Your own account."""
    return ok(own_user.dump(current_caller()._mapping))


@bp.patch("/me")
@documented(response=UserSchema, errors=(22, 429))
@auth_required
@writes
@input_body(UserUpdateSchema)
def update_me(body: dict[str, Any]) -> Response:
    """Change your email (needs `current_password`) or display name."""
    return ok(own_user.dump(service.update_user(current_user(), body,
                                                current_session().id)))


@bp.delete("/me")
@documented(response=DeletedSchema, errors=(22, 429))
@auth_required
@writes
@input_body(PasswordSchema)
def delete_me(body: dict[str, Any]) -> Response:
    """Delete your account and all its sessions (needs the password)."""
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
@documented(response=UserSchema, many=True, paginated=True)
@admin_required
@input_query(UserListQuerySchema)
def list_users(query: dict[str, Any]) -> Response:
    """Every account, oldest first (admins only)."""
    users, next_cursor = service.list_users(query["limit"], query.get("cursor"))
    return ok(own_user.dump(users, many=True),
              pagination={"limit": query["limit"], "next_cursor": next_cursor})


@bp.get("/me/events")
@documented(response=EventSchema, many=True, paginated=True)
@auth_required
@input_query(EventListQuerySchema)
def my_events(query: dict[str, Any]) -> Response:
    """What happened to your account (sign-ins, changes, revocations), newest first."""
    events, next_cursor = list_events(current_caller().id, query["limit"], query.get("cursor"))
    return ok(event_list.dump(events),
              pagination={"limit": query["limit"], "next_cursor": next_cursor})
