"""One exception class per catalog code, built from the error envelope."""
from __future__ import annotations

import time
from email.utils import parsedate_to_datetime
from typing import Any, Mapping

from gatehouse_client.catalog import (
    AUTH_ACTIONS, CODES, FORBIDDEN, LOGIN, LOGOUT, NEVER, REAUTH, REFRESH, STATUS_RETRY)


class GatehouseError(Exception):
    """An error answer from the server.

    ``code`` (the envelope's ``meta.code``), ``message`` (its title),
    ``description``, ``reason`` (machine-readable, branch on it),
    ``request_id`` (quote it to support), ``fields`` (88 validation
    messages per field), ``status`` (HTTP status) and ``retry_after``
    (seconds, from a ``Retry-After`` header). A code this client does not
    know raises this base class itself, retried by its HTTP status.
    """

    code: int | None = None

    def __init__(self, *, status: int | None, code: int | None, message: str,
                 description: str = "", reason: str | None = None,
                 request_id: str | None = None,
                 fields: Mapping[str, list[str]] | None = None,
                 retry_after: float | None = None) -> None:
        text = f"{code} {message}" if code is not None else message
        if description:
            text += f": {description}"
        if reason:
            text += f" [{reason}]"
        super().__init__(text)
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
        """The catalog's retry policy for this code (by HTTP status for unknown codes)."""
        entry = CODES.get(self.code) if self.code is not None else None
        if entry is not None:
            return entry.retry
        return STATUS_RETRY.get(self.status or 0, NEVER)

    @property
    def retryable(self) -> bool:
        return self.retry_policy != NEVER


class NotSupported(GatehouseError):
    """10: unknown path, or a method the path does not allow."""
    code = 10


class UserNotExists(GatehouseError):
    """21: no such user (or, at login, no such username/email)."""
    code = 21


class PasswordNotMatch(GatehouseError):
    """22: wrong password; ask the user again, never resend it automatically."""
    code = 22


class DatabaseRollback(GatehouseError):
    """77: the database failed and nothing was written; retried with backoff."""
    code = 77


class InvalidParameter(GatehouseError):
    """88: fix the request; ``fields`` names each invalid field."""
    code = 88


class AuthRequired(GatehouseError):
    """99: branch on ``reason`` (or on the helpers below, which follow the catalog's hints)."""
    code = 99

    @property
    def action(self) -> str:
        """refresh, logout, login, forbidden or reauth (an unknown reason: log in again)."""
        return AUTH_ACTIONS.get(self.reason or "", LOGIN)

    @property
    def should_refresh(self) -> bool:
        """The access token expired: refresh the pair once, then resend."""
        return self.action == REFRESH

    @property
    def should_logout(self) -> bool:
        """The held tokens are dead (blocked, revoked, deleted, 2FA mismatch, …): clear them.

        The client has already cleared its own tokens when it raises this.
        """
        return self.action == LOGOUT

    @property
    def should_login(self) -> bool:
        """The user has to log in (again) before going on."""
        return self.action in (LOGOUT, LOGIN)

    @property
    def forbidden(self) -> bool:
        """The session is fine but this user may not do this (not an admin)."""
        return self.action == FORBIDDEN

    @property
    def needs_password(self) -> bool:
        """The session is fine, but this change needs the user's current
        password: ask for it and call again with ``password=``."""
        return self.action == REAUTH

    @property
    def account_blocked(self) -> bool:
        """Stop sending requests and show support contact details."""
        return self.reason == "auth.account.blocked"


class TooManyRequests(GatehouseError):
    """429: wait ``retry_after`` seconds before trying again."""
    code = 429


class UnknownError(GatehouseError):
    """500: retried once; report ``request_id`` if it persists."""
    code = 500


class TransportError(GatehouseError):
    """No envelope: connection refused or reset, a timeout, or a body that is not one.

    ``status`` is None when no answer arrived at all.
    """


ERRORS: dict[int, type[GatehouseError]] = {
    cls.code: cls for cls in (NotSupported, UserNotExists, PasswordNotMatch, DatabaseRollback,
                              InvalidParameter, AuthRequired, TooManyRequests, UnknownError)
}


def parse_retry_after(raw: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds (delay-seconds or an HTTP date), or None."""
    if not raw:
        return None
    raw = raw.strip()
    if raw.isdigit():
        return float(raw)
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def from_envelope(status: int, body: Any, headers: Mapping[str, str]) -> GatehouseError:
    """The exception for an error answer (its envelope already parsed)."""
    meta = body.get("meta") if isinstance(body, dict) else None
    meta = meta if isinstance(meta, dict) else {}
    code = meta.get("code")
    code = code if isinstance(code, int) and not isinstance(code, bool) else None
    cls = ERRORS.get(code, GatehouseError) if code is not None else GatehouseError
    fields = meta.get("fields")
    return cls(status=status, code=code,
               message=str(meta.get("message") or f"HTTP {status}"),
               description=str(meta.get("description") or ""),
               reason=meta.get("reason") if isinstance(meta.get("reason"), str) else None,
               request_id=meta.get("request_id") or headers.get("X-Request-ID"),
               fields=fields if isinstance(fields, dict) else None,
               retry_after=parse_retry_after(headers.get("Retry-After")))
