"""The codes this client knows: a static copy of the server's catalog.

Kept in step with the server by the server's test suite
(tests/client/test_catalog_sync.py), so the two cannot drift.
"""
from __future__ import annotations

from typing import NamedTuple

NEVER, BACKOFF, RETRY_AFTER, ONCE = "never", "backoff", "retry_after", "once"


class Code(NamedTuple):
    status: int
    title: str
    retry: str


CODES: dict[int, Code] = {
    10: Code(404, "Not Supported", NEVER),
    21: Code(404, "User Not Exists", NEVER),
    22: Code(400, "Password Not Match", NEVER),
    77: Code(500, "Database Rollback", BACKOFF),
    88: Code(400, "Invalid Parameter", NEVER),
    99: Code(401, "Auth Required", NEVER),
    429: Code(429, "Too Many Requests", RETRY_AFTER),
    500: Code(500, "Unknown Error", ONCE),
}

# 99 reasons after which the user must log in again (or stop: blocked)
LOGOUT_REASONS = frozenset({
    "auth.account.blocked", "auth.account.deleted", "auth.token.revoked",
    "auth.token.2fa_mismatch", "auth.refresh.invalid", "auth.refresh.reused",
    "auth.token.invalid", "auth.token.malformed",
})
REFRESH_REASONS = frozenset({"auth.token.expired"})
