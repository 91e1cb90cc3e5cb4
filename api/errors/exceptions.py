"""The AppError hierarchy.

Each subclass names only its ``code``; its HTTP status, title and default
reason are read from the catalog when the class is defined, so the catalog
stays the one source. Instances carry only per-occurrence data (description,
reason, fields, headers); nothing is shared or mutated across requests.
"""
from __future__ import annotations

from typing import Any, Mapping

from api.errors.catalog import CATALOG, REASONS, ErrorCode


class AppError(Exception):
    code: int = 500
    status: int
    message: str
    reason: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _bind(cls, CATALOG[cls.code])

    def __init__(self, description: str | None = None, *, reason: str | None = None,
                 fields: Mapping[str, list[str]] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        if reason is not None:
            owner, _ = REASONS[reason]  # KeyError: a reason missing from the catalog
            if owner.code != self.code:
                raise ValueError(f"reason {reason} belongs to code {owner.code}")
            self.reason = reason
        # None means "the catalog's text for the reason", which can be localized.
        self.description = description
        self.fields = dict(fields) if fields else None
        self.headers = dict(headers) if headers else {}
        super().__init__(description or self.reason)

    @property
    def entry(self) -> ErrorCode:
        return CATALOG[self.code]


def _bind(cls: type[AppError], entry: ErrorCode) -> None:
    cls.status = entry.status
    cls.message = entry.title
    if entry.default_reason:
        cls.reason = entry.default_reason


_bind(AppError, CATALOG[AppError.code])


class NotSupportedError(AppError):
    code = 10


class UserNotExistsError(AppError):
    code = 21


class PasswordNotMatchError(AppError):
    code = 22


class DatabaseError(AppError):
    code = 77


class InvalidParameterError(AppError):
    code = 88


class UnauthorizedError(AppError):
    code = 99


class TooManyRequestsError(AppError):
    code = 429


class UnknownError(AppError):
    code = 500


ERROR_CLASSES: dict[int, type[AppError]] = {
    cls.code: cls for cls in (
        NotSupportedError, UserNotExistsError, PasswordNotMatchError,
        DatabaseError, InvalidParameterError, UnauthorizedError,
        TooManyRequestsError, UnknownError)
}


_MISSING = "Missing data for required field."


def validation_error(messages: Any) -> InvalidParameterError:
    """The 88 for marshmallow's messages: every field named, flattened."""
    fields = _flatten(messages)
    missing = [name for name, msgs in fields.items() if _MISSING in msgs]
    if missing:
        description = "Missing required parameter: " + ", ".join(sorted(missing))
    else:
        description = "Invalid parameter: " + ", ".join(sorted(fields))
    return InvalidParameterError(description, reason="request.param.invalid",
                                 fields=fields)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """marshmallow's nested messages as {"a.b": [msg, ...]}."""
    if isinstance(messages, list):
        return {prefix or "_schema": [str(m) for m in messages]}
    out: dict[str, list[str]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list):  # the usual case, without a call
                out[name] = [str(m) for m in value]
            else:
                out.update(_flatten(value, name))
    else:
        out[prefix or "_schema"] = [str(messages)]
    return out
