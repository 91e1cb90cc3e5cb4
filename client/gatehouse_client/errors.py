"""One exception class per catalog code, built from the error envelope."""
from __future__ import annotations

from typing import Any, Mapping

from gatehouse_client.catalog import CODES, LOGOUT_REASONS, NEVER, REFRESH_REASONS


class GatehouseError(Exception):
    """An error envelope from the server (or a transport failure, code None)."""

    code: int | None = None

    def __init__(self, *, status: int | None, code: int | None, message: str,
                 description: str = "", reason: str | None = None,
                 request_id: str | None = None,
                 fields: Mapping[str, list[str]] | None = None,
                 retry_after: float | None = None) -> None:
        super().__init__(f"{code} {message}: {description}" if code else message)
        self.status = status
        self.code = code
        self.message = message
        self.description = description
        self.reason = reason
        self.request_id = request_id
        self.fields = dict(fields or {})
        self.retry_after = retry_after

    @property
    def retry_policy(self) -> str:
        entry = CODES.get(self.code or 0)
        return entry.retry if entry else NEVER

    @property
    def retryable(self) -> bool:
        return self.retry_policy != NEVER


class NotSupported(GatehouseError):
    code = 10


class UserNotExists(GatehouseError):
    code = 21


class PasswordNotMatch(GatehouseError):
    code = 22


class DatabaseRollback(GatehouseError):
    code = 77


class InvalidParameter(GatehouseError):
    code = 88


class AuthRequired(GatehouseError):
    code = 99

    @property
    def should_refresh(self) -> bool:
        """Refresh the token pair once, then retry (the seed's advice)."""
        return self.reason in REFRESH_REASONS

    @property
    def should_logout(self) -> bool:
        """Clear local tokens; for a blocked account stop sending requests."""
        return self.reason in LOGOUT_REASONS

    @property
    def account_blocked(self) -> bool:
        return self.reason == "auth.account.blocked"


class TooManyRequests(GatehouseError):
    code = 429


class UnknownError(GatehouseError):
    code = 500


class TransportError(GatehouseError):
    """No usable answer: connection refused or reset, timeout, or a non-envelope body."""


ERRORS: dict[int, type[GatehouseError]] = {
    cls.code: cls for cls in (NotSupported, UserNotExists, PasswordNotMatch, DatabaseRollback,
                              InvalidParameter, AuthRequired, TooManyRequests, UnknownError)
}
_BY_STATUS = {404: NotSupported, 400: InvalidParameter, 401: AuthRequired,
              429: TooManyRequests, 500: UnknownError}


def from_envelope(status: int, body: Any, headers: Mapping[str, str]) -> GatehouseError:
    meta = body.get("meta", {}) if isinstance(body, dict) else {}
    code = meta.get("code")
    cls = ERRORS.get(code) if isinstance(code, int) else None
    if cls is None:  # a code newer than this client: fall back on the HTTP status
        cls = _BY_STATUS.get(status, UnknownError if status >= 500 else GatehouseError)
    retry_after = None
    raw = headers.get("Retry-After")
    if raw and raw.strip().isdigit():
        retry_after = float(raw.strip())
    return cls(status=status, code=code if isinstance(code, int) else None,
               message=str(meta.get("message", "HTTP %d" % status)),
               description=str(meta.get("description", "")), reason=meta.get("reason"),
               request_id=meta.get("request_id") or headers.get("X-Request-ID"),
               fields=meta.get("fields"), retry_after=retry_after)
