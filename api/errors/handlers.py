"""One error handler for the whole app: everything leaves as the envelope.

The session is rolled back first, before anything else, so no half-done
write survives a failed request and the connection returns to the pool.
"""
from __future__ import annotations

import logging
import math
import re
import time
from typing import Any

from flask import Flask, Response, current_app, url_for
from marshmallow import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from api.errors.catalog import reason_of
from api.errors.exceptions import (
    AppError, AuthRequiredError, DatabaseRollbackError, InvalidParameterError,
    NotSupportedError, TooManyRequestsError, UnknownError, validation_error)
from api.extensions import db, limiter
from api.errors.i18n import localize_fields, to_chinese
from api.negotiation import language, wants_problem_json
from api.request_ids import request_id
from api.requests import current_request
from api.responses import json_response

log = logging.getLogger("api.errors")

# werkzeug status -> (legacy error class, reason)
_HTTP_MAP: dict[int, tuple[type[AppError], str]] = {
    404: (NotSupportedError, "request.route.not_found"),
    405: (NotSupportedError, "request.method.not_allowed"),
    400: (InvalidParameterError, "request.body.bad_request"),
    413: (InvalidParameterError, "request.body.too_large"),
    415: (InvalidParameterError, "request.body.unsupported_media_type"),
    401: (AuthRequiredError, "auth.token.missing"),
    403: (AuthRequiredError, "auth.permission.admin_required"),
    429: (TooManyRequestsError, "request.rate.limited"),
}

# Names of the unique columns a client can collide with, and their reasons.
_UNIQUE_FIELDS = {"username": "user.username.taken", "email": "user.email.taken"}
_UNIQUE_RE = re.compile(r"(username|email)", re.IGNORECASE)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(Exception, handle_exception)


def handle_exception(exc: BaseException) -> Response:
    _rollback()
    error = to_app_error(exc)
    if error.status >= 500:
        log.error("request failed: code=%s reason=%s",
                  error.code, error.reason, exc_info=exc)
    else:
        log.info("request rejected: code=%s reason=%s",
                 error.code, error.reason)
    _drop_tracebacks(exc)
    return render_error(error)


def _drop_tracebacks(exc: BaseException | None) -> None:
    """Once handled (and a 5xx logged), a traceback only keeps frames alive,
    often in a cycle that holds the whole request: werkzeug keeps its 404 in
    request.routing_exception, and marshmallow's load keeps the error it
    raises in a local of a frame on that error's own traceback. A cycle
    waits for the garbage collector; without the tracebacks, the request is
    freed when it ends."""
    for _ in range(_CHAIN_LIMIT):  # a hand-set __context__ can loop
        if exc is None:
            return
        exc.__traceback__ = None
        exc = exc.__context__


_CHAIN_LIMIT = 8


def _rollback() -> None:
    if not db.session.registry.has():  # no session opened: nothing to undo
        return
    try:
        db.session.rollback()
    except Exception:  # a dead connection must not hide the original error
        log.warning("session rollback failed", exc_info=True)


def to_app_error(exc: BaseException) -> AppError:
    """Map any exception to the catalog's error for it."""
    if isinstance(exc, AppError):
        return exc
    if isinstance(exc, ValidationError):
        return validation_error(exc.normalized_messages())
    if isinstance(exc, HTTPException):
        return _from_http(exc)
    if isinstance(exc, IntegrityError):
        return _from_integrity(exc)
    if isinstance(exc, SQLAlchemyError):
        return DatabaseRollbackError(reason=_database_reason(exc))
    return UnknownError()


def _from_http(exc: HTTPException) -> AppError:
    status = exc.code or 500
    if status in _HTTP_MAP:
        cls, reason = _HTTP_MAP[status]
        headers = {}
        if status == 405 and exc.valid_methods:
            headers["Allow"] = ", ".join(sorted(exc.valid_methods))
        if status == 429:
            headers["Retry-After"] = str(_retry_after())
        return cls(reason=reason, headers=headers)
    if 400 <= status < 500:
        return InvalidParameterError(reason="request.body.bad_request")
    return UnknownError()


_TIMEOUT_ERRORS = {"QueryCanceled", "LockNotAvailable"}
_TIMEOUT_TEXT = ("database is locked", "database table is locked", "statement timeout")
_CONNECT_TEXT = ("connection", "could not connect", "unable to open database",
                 "server closed", "terminating connection")


def _database_reason(exc: SQLAlchemyError) -> str:
    """Tell a busy database from an unreachable one; clients retry both."""
    if not isinstance(exc, DBAPIError):
        return "database.transaction.failed"
    orig = exc.orig
    text = str(orig).lower()
    if type(orig).__name__ in _TIMEOUT_ERRORS or any(t in text for t in _TIMEOUT_TEXT):
        return "database.query.timeout"
    if exc.connection_invalidated or (isinstance(exc, OperationalError)
                                      and any(t in text for t in _CONNECT_TEXT)):
        return "database.connection.unavailable"
    return "database.transaction.failed"


def _retry_after() -> int:
    """Seconds until the breached limit resets (at least 1)."""
    current = limiter.current_limit
    if current is None:
        return 1
    return max(1, math.ceil(current.reset_at - time.time()))


def _from_integrity(exc: IntegrityError) -> AppError:
    match = _UNIQUE_RE.search(str(exc.orig))
    text = str(exc.orig).lower()
    if match and ("unique" in text or "duplicate" in text):
        name = match.group(1).lower()
        reason = _UNIQUE_FIELDS[name]
        message = reason_of(reason).description
        return InvalidParameterError(message, reason=reason,
                                     fields={name: [message]})
    return DatabaseRollbackError(reason="database.transaction.failed")


def _problem_type(code: int) -> str:
    """The code's docs: under PUBLIC_URL when set, else a relative URL.
    Never built from the Host header, which the client chooses."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        return f"{public}/v1/errors/{code}"
    return url_for("errors.show_code", code=code)


def render_error(error: AppError) -> Response:
    req = current_request()
    lang = language(req)
    entry = error.entry
    reason = reason_of(error.reason)
    title = entry.localized_title(lang)
    field_messages = error.fields
    if error.description is None:
        description = reason.description_zh if lang == "zh" else reason.description
    elif lang == "zh":
        description = to_chinese(error.description)
    else:
        description = error.description
    if lang == "zh" and field_messages:
        field_messages = localize_fields(field_messages)
    rid = request_id(req)
    headers = dict(error.headers)
    if entry.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer realm="gatehouse"')
    if lang == "zh":
        headers["Content-Language"] = "zh"
    if wants_problem_json(req):
        problem: dict[str, Any] = {
            "type": _problem_type(entry.code),
            "title": title,
            "status": entry.status,
            "detail": description,
            "instance": req.path,
            "code": entry.code,
            "reason": error.reason,
            "request_id": rid,
        }
        if field_messages:
            problem["errors"] = field_messages
        return json_response(problem, entry.status, "application/problem+json",
                             headers)
    meta: dict[str, Any] = {"code": entry.code, "message": title,
                            "description": description, "reason": error.reason}
    if field_messages:
        meta["fields"] = field_messages
    meta["request_id"] = rid
    return json_response({"meta": meta}, entry.status, headers=headers)
