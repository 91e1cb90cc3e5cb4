"""Rate-limit keys: per client address and per account (Flask-Limiter).

The account keys read the request body before validation, so they must
never fail: anything unreadable falls back to the client address.
"""
from __future__ import annotations

import json
from functools import wraps
from typing import Any, Callable

from flask import Flask, current_app, request
from flask_limiter.util import get_remote_address

from api.extensions import limiter


def _body_field(name: str) -> str | None:
    try:
        body = json.loads(request.get_data(cache=True) or b"{}")
    except (ValueError, UnicodeDecodeError):
        return None
    value = body.get(name) if isinstance(body, dict) else None
    return value[:2048] if isinstance(value, str) and value else None


def _account_key(field: str, part: Callable[[str], str] = str.lower) -> Callable[[], str]:
    def key() -> str:
        value = _body_field(field)
        return f"acct:{part(value)}" if value else f"addr:{get_remote_address()}"
    return key


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


def _jwt_subject(token: str) -> str:
    """The (unverified) subject of a challenge token: only a bucket name."""
    import jwt

    try:
        return "u" + str(jwt.decode(token, options={"verify_signature": False}).get("sub"))
    except jwt.InvalidTokenError:
        return "bad"


by_address = get_remote_address

login_limits = [
    limiter.limit(_setting("RATELIMIT_LOGIN"), key_func=by_address, scope="login-addr"),
    limiter.limit(_setting("RATELIMIT_LOGIN_ACCOUNT"), key_func=_account_key("login"),
                  scope="login-acct"),
]
register_limits = [
    limiter.limit(_setting("RATELIMIT_REGISTER"), key_func=by_address, scope="register-addr"),
    limiter.limit(_setting("RATELIMIT_REGISTER_ACCOUNT"), key_func=_account_key("username"),
                  scope="register-acct"),
]
refresh_limits = [
    limiter.limit(_setting("RATELIMIT_REFRESH"), key_func=by_address, scope="refresh-addr"),
    limiter.limit(_setting("RATELIMIT_REFRESH_ACCOUNT"),
                  key_func=_account_key("refresh_token", lambda v: v.split(".")[0]),
                  scope="refresh-acct"),
]
verify_limits = [
    limiter.limit(_setting("RATELIMIT_2FA"), key_func=by_address, scope="2fa-addr"),
    limiter.limit(_setting("RATELIMIT_2FA_ACCOUNT"),
                  key_func=_account_key("challenge_token", _jwt_subject), scope="2fa-acct"),
]


def limited(limits: list) -> Callable:
    def decorate(view: Callable) -> Callable:
        checked = view
        for limit in reversed(limits):
            checked = limit(checked)

        @wraps(view)
        def dispatch(*args: Any, **kwargs: Any) -> Any:
            # with limits off (RATELIMIT_ENABLED=false) Flask-Limiter's wrappers
            # would only find that out on every request; skip them
            return (checked if limiter.enabled else view)(*args, **kwargs)

        dispatch.rate_limited = True  # type: ignore[attr-defined]  # read by the OpenAPI builder
        return dispatch
    return decorate


def _is_limiter_hook(func: Callable) -> bool:
    # bound methods (before/teardown) and a partial over the limiter (after)
    return (getattr(func, "__self__", None) is limiter
            or limiter in getattr(func, "args", ()))


def drop_limiter_hooks(app: Flask) -> None:
    """With limits off, Flask-Limiter's before/after/teardown hooks would only
    find out on every request that there is nothing to do: remove them."""
    for hooks in (app.before_request_funcs, app.after_request_funcs,
                  app.teardown_request_funcs):
        hooks[None] = [f for f in hooks.get(None, []) if not _is_limiter_hook(f)]
