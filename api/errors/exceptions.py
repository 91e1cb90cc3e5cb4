"""The AppError hierarchy.

Each subclass names only its ``code``; its HTTP status, title and default
reason are read from the catalog when the class is defined, so the catalog
stays the one source. Instances carry only per-occurrence data (description,
reason, fields, headers); nothing is shared or mutated across requests.
"""
from __future__ import annotations

from typing import Any, Mapping

from api.errors.catalog import CATALOG, REASONS, ErrorCode
from api.errors.i18n import INVALID, MISSING, MISSING_AND_INVALID


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


class DatabaseRollbackError(AppError):
    code = 77


class InvalidParameterError(AppError):
    code = 88


class AuthRequiredError(AppError):
    code = 99


class TooManyRequestsError(AppError):
    code = 429


class UnknownError(AppError):
    code = 500


ERROR_CLASSES: dict[int, type[AppError]] = {
    cls.code: cls for cls in (
        NotSupportedError, UserNotExistsError, PasswordNotMatchError,
        DatabaseRollbackError, InvalidParameterError, AuthRequiredError,
        TooManyRequestsError, UnknownError)
}

# The names SPEC §4 uses; the classes are named as the client names them
# (DatabaseRollback, AuthRequired), and DatabaseError is SQLAlchemy's name too.
UnauthorizedError = AuthRequiredError
DatabaseError = DatabaseRollbackError


_MISSING = "Missing data for required field."


class ReasonMessage(str):
    """A validation message that names its own reason of code 88 (e.g.
    user.password.common): a validator raises ``ValidationError(ReasonMessage(
    text, reason))``, and when every failing field fails for that one reason
    the 88 carries it (and the catalog's localized description)."""

    reason: str

    def __new__(cls, text: str, reason: str) -> "ReasonMessage":
        if REASONS[reason][0].code != 88:  # KeyError: not in the catalog
            raise ValueError(f"reason {reason} is not one of code 88")
        message = super().__new__(cls, text)
        message.reason = reason
        return message


def validation_error(messages: Any) -> InvalidParameterError:
    """The 88 for marshmallow's messages, flattened; the description names
    every field in `fields`: the missing ones, then the invalid ones."""
    fields: dict[str, list[str]] = {}
    reasons: set[str | None] = set()
    missing: list[str] = []
    invalid: list[str] = []
    for name, msgs in _flatten(messages).items():
        fields[name] = texts = [str(m) for m in msgs]
        reasons.update(getattr(m, "reason", None) for m in msgs)
        (missing if _MISSING in texts else invalid).append(name)
    if len(reasons) == 1 and None not in reasons:
        return InvalidParameterError(reason=reasons.pop(), fields=fields)
    if missing and invalid:
        template = MISSING_AND_INVALID
    else:
        template = MISSING if missing else INVALID
    return InvalidParameterError(
        template.format(missing=", ".join(sorted(missing)), invalid=", ".join(sorted(invalid))),
        reason="request.param.invalid", fields=fields)


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[Any]]:
    """marshmallow's nested messages as {"a.b": [msg, ...]}, each message as
    given (a ReasonMessage keeps its reason)."""
    if isinstance(messages, list):
        return {prefix or "_schema": messages}
    out: dict[str, list[Any]] = {}
    if isinstance(messages, dict):
        for key, value in messages.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            if isinstance(value, list):  # the usual case, without a call
                out[name] = value
            else:
                out.update(_flatten(value, name))
    else:
        out[prefix or "_schema"] = [messages]
    return out
