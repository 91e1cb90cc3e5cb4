"""The codes and reasons this client knows: a static copy of the server's catalog.

The server's test suite (tests/client/test_catalog_sync.py) checks this copy
against the server's catalog (api/errors/catalog.py), so the two cannot drift:
a code, status, title, retry policy or reason added or changed on one side
fails that test until the other side follows.
"""
from __future__ import annotations

from typing import NamedTuple

# retry policies, as the server's catalog names them
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

# An error with a code this client does not know is retried by its HTTP status.
STATUS_RETRY: dict[int, str] = {429: RETRY_AFTER, 500: ONCE, 502: BACKOFF, 503: BACKOFF,
                                504: BACKOFF}

# Every reason the server sends, and the code it comes with.
REASONS: dict[str, int] = {
    "request.route.not_found": 10,
    "request.method.not_allowed": 10,
    "auth.jwks.not_published": 10,
    "auth.passkey.not_found": 10,
    "user.fetch.not_found": 21,
    "auth.login.unknown_user": 21,
    "auth.password.mismatch": 22,
    "auth.login.invalid_credentials": 22,
    "database.transaction.failed": 77,
    "database.query.timeout": 77,
    "database.connection.unavailable": 77,
    "user.password.check_unavailable": 77,
    "database.schema.outdated": 77,
    "request.param.invalid": 88,
    "request.body.invalid_json": 88,
    "request.body.not_object": 88,
    "request.body.unsupported_media_type": 88,
    "request.body.too_large": 88,
    "request.body.bad_request": 88,
    "request.read.timeout": 88,
    "request.body.too_deep": 88,
    "request.param.invalid_character": 88,
    "request.header.unsupported_transfer_encoding": 88,
    "request.query.invalid_cursor": 88,
    "auth.session.not_found": 88,
    "user.username.taken": 88,
    "user.email.taken": 88,
    "user.password.common": 88,
    "user.password.breached": 88,
    "account.token.invalid": 88,
    "account.token.expired": 88,
    "account.token.spent": 88,
    "account.code.invalid": 88,
    "auth.totp.invalid": 88,
    "auth.totp.replayed": 88,
    "auth.totp.not_pending": 88,
    "auth.totp.already_enabled": 88,
    "auth.totp.setup_restarted": 88,
    "auth.totp.not_enabled": 88,
    "auth.passkey.invalid": 88,
    "auth.passkey.user_verification_required": 88,
    "auth.passkey.challenge_expired": 88,
    "auth.passkey.challenge_used": 88,
    "auth.passkey.already_registered": 88,
    "auth.passkey.too_many": 88,
    "auth.passkey.none_registered": 88,
    "auth.passkey.last_factor": 88,
    "auth.token.missing": 99,
    "auth.token.malformed": 99,
    "auth.token.invalid": 99,
    "auth.token.expired": 99,
    "auth.token.revoked": 99,
    "auth.token.wrong_type": 99,
    "auth.token.2fa_mismatch": 99,
    "auth.token.unknown_key": 99,
    "auth.token.wrong_audience": 99,
    "auth.account.blocked": 99,
    "auth.account.deleted": 99,
    "auth.email.unverified": 99,
    "auth.refresh.invalid": 99,
    "auth.refresh.reused": 99,
    "auth.refresh.superseded": 99,
    "auth.reauth.required": 99,
    "auth.challenge.invalid": 99,
    "auth.challenge.exhausted": 99,
    "auth.passkey.unknown_credential": 99,
    "auth.passkey.cloned": 99,
    "auth.permission.admin_required": 99,
    "auth.permission.2fa_required": 99,
    "request.rate.limited": 429,
    "auth.attempts.too_many": 429,
    "server.internal.error": 500,
}

# What the catalog's hints tell a client to do on each 99 reason.
REFRESH = "refresh"      # refresh the token pair once, then resend
LOGOUT = "logout"        # the held tokens are dead: clear them, log in again
LOGIN = "login"          # no session to clear: (re)start the login
FORBIDDEN = "forbidden"  # the session is fine; this user may not do this
REAUTH = "reauth"        # the session is fine; resend with the user's current password

AUTH_ACTIONS: dict[str, str] = {
    "auth.token.missing": LOGIN,
    "auth.token.malformed": LOGOUT,
    "auth.token.invalid": LOGOUT,
    "auth.token.expired": REFRESH,
    "auth.token.revoked": LOGOUT,
    "auth.token.wrong_type": LOGIN,
    "auth.token.2fa_mismatch": LOGOUT,
    "auth.token.unknown_key": REFRESH,
    "auth.token.wrong_audience": REFRESH,
    "auth.account.blocked": LOGOUT,
    "auth.account.deleted": LOGOUT,
    # no session was opened: verify the address (or resend the mail), then log in
    "auth.email.unverified": LOGIN,
    "auth.refresh.invalid": LOGOUT,
    "auth.refresh.reused": LOGOUT,
    # a concurrent refresh won; Client.refresh keeps the pair it received
    "auth.refresh.superseded": LOGIN,
    "auth.reauth.required": REAUTH,
    "auth.challenge.invalid": LOGIN,
    "auth.challenge.exhausted": LOGIN,
    # no session was opened: sign in another way (password, another passkey)
    "auth.passkey.unknown_credential": LOGIN,
    "auth.passkey.cloned": LOGIN,
    "auth.permission.admin_required": FORBIDDEN,
    "auth.permission.2fa_required": FORBIDDEN,
}
