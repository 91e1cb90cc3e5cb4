"""Rate limits (Flask-Limiter): per client address as decorators, per
session where the session was proven.

A key is built from the client address or from an identity the request
proved, never from text a client merely sent (an unverified token's
`sub`, a refresh token's session before its MAC is checked, a login name
as typed), and it is always storable: see `api.auth.attempts.storable`.
Failed password and second-factor checks are counted per account in
`api.auth.attempts`, once the account is known.

Storage faults: a failing storage call is logged with the request id
(Flask-Limiter's own messages go through the "api" log handler), and the
counting carries on in this process's memory until the storage answers
again; no request can cause one, since no client text reaches a key.
"""
from __future__ import annotations

import logging
import math
import time
from functools import wraps
from typing import Any, Callable

from flask import Flask, current_app
from limits import parse
from limits.storage import MemoryStorage
from limits.strategies import FixedWindowRateLimiter

from api.auth.attempts import client_address, release_slots
from api.errors.exceptions import TooManyRequestsError
from api.extensions import limiter

log = logging.getLogger("api.limits")


def _setting(name: str) -> Callable[[], str]:
    return lambda: current_app.config[name]


by_address = client_address

login_limits = [
    limiter.limit(_setting("RATELIMIT_LOGIN"), key_func=by_address, scope="login-addr"),
]
register_limits = [
    limiter.limit(_setting("RATELIMIT_REGISTER"), key_func=by_address, scope="register-addr"),
]
refresh_limits = [
    limiter.limit(_setting("RATELIMIT_REFRESH"), key_func=by_address, scope="refresh-addr"),
]
verify_limits = [
    limiter.limit(_setting("RATELIMIT_2FA"), key_func=by_address, scope="2fa-addr"),
]

_memory_limiter = FixedWindowRateLimiter(MemoryStorage())


def hit_proven(setting: str, scope: str, identity: str) -> None:
    """Count one request against `setting` for an identity the request has
    proven (e.g. a refresh token's session once its MAC is checked); 429
    `request.rate.limited` with Retry-After when it is spent."""
    if not current_app.config["RATELIMIT_ENABLED"]:
        return
    item = parse(current_app.config[setting])
    key = (current_app.config["RATELIMIT_KEY_PREFIX"], scope, identity)
    try:
        strategy = limiter.limiter
        allowed = strategy.hit(item, *key)
    except Exception as exc:
        log.error("rate-limit storage failed (%s in hit); counting in process memory",
                  type(exc).__name__)
        strategy = _memory_limiter
        allowed = strategy.hit(item, *key)
    if not allowed:
        try:
            reset = strategy.get_window_stats(item, *key).reset_time
        except Exception:
            reset = time.time() + item.get_expiry()
        wait = max(1, math.ceil(reset - time.time()))
        raise TooManyRequestsError(reason="request.rate.limited",
                                   headers={"Retry-After": str(wait)})


class _RequestIdHandler(logging.Handler):
    """Hands Flask-Limiter's records (a storage fault, a fall-back to memory)
    to the "api" handlers, which add the request id."""

    def emit(self, record: logging.LogRecord) -> None:
        record.msg = f"flask-limiter: {record.msg}"
        logging.getLogger("api.limits").handle(record)


def init_limits(app: Flask) -> None:
    """Flask-Limiter logs through the app's log lines; a request's check
    slots (api.auth.attempts) are released when it ends."""
    if app.config["RATELIMIT_ENABLED"]:
        app.teardown_request(release_slots)
    flask_limiter_log = logging.getLogger("flask-limiter")
    if not any(isinstance(h, _RequestIdHandler) for h in flask_limiter_log.handlers):
        flask_limiter_log.addHandler(_RequestIdHandler())
        flask_limiter_log.propagate = False


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
