"""View guards: a valid bearer token, or an admin's."""
from __future__ import annotations

from functools import wraps
from typing import Any, Callable, TypeVar

from flask import g

from api.auth.tokens import SessionRef, authenticate, bearer_token
from api.errors.exceptions import UnauthorizedError
from api.users.models import User

F = TypeVar("F", bound=Callable[..., Any])


def auth_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.user, g.auth_session = authenticate(bearer_token())
        return view(*args, **kwargs)

    wrapper.auth_required = True  # type: ignore[attr-defined]  # read by the OpenAPI builder
    return wrapper  # type: ignore[return-value]


def admin_required(view: F) -> F:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        g.user, g.auth_session = authenticate(bearer_token())
        if not g.user.is_admin:
            raise UnauthorizedError(reason="auth.permission.admin_required")
        return view(*args, **kwargs)

    wrapper.auth_required = True  # type: ignore[attr-defined]
    wrapper.admin_required = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def current_user() -> User:
    return g.user


def current_session() -> SessionRef:
    return g.auth_session
