"""View guards: a valid bearer token, or an admin's.

A guarded view's caller is a row of plain columns (`current_caller()`),
read in the one query that checks the token's session; a view that changes
the account asks for the ORM entity (`current_user()`, one more query).
"""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask import g
from sqlalchemy import Row

from api.auth.tokens import SessionRef, authenticate, bearer_token
from api.errors.exceptions import AuthRequiredError
from api.extensions import db
from api.users.models import User

F = TypeVar("F", bound=Callable[..., Any])


def auth_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.caller, g.auth_session = authenticate(bearer_token())
        return view(*args, **kwargs)

    wrapper.auth_required = True  # type: ignore[attr-defined]  # read by the OpenAPI builder
    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.caller, g.auth_session = authenticate(bearer_token())
        if not g.caller.is_admin:
            raise AuthRequiredError(reason="auth.permission.admin_required")
        return view(*args, **kwargs)

    wrapper.auth_required = True  # type: ignore[attr-defined]
    wrapper.admin_required = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def current_caller() -> Row:
    """The caller as read with the token check (CALLER_COLUMNS), no query."""
    return g.caller


def current_user() -> User:
    """The caller as an ORM entity, for views that change the account."""
    user = g.get("user")
    if user is None:
        user = db.session.get(User, g.caller.id)
        if user is None:  # deleted since the token check, in another request
            raise AuthRequiredError(reason="auth.account.deleted")
        g.user = user
    return user


def current_session() -> SessionRef:
    return g.auth_session
