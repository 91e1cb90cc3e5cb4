"""Every kind of security event, named once (the API, the CLI and the docs show these)."""
from __future__ import annotations

SIGN_IN_SUCCEEDED = "sign_in.succeeded"
# details.reason: wrong_password, blocked, email_unverified
SIGN_IN_FAILED = "sign_in.failed"
SECOND_FACTOR_FAILED = "second_factor.failed"
LOGOUT = "logout"                            # details.scope
REFRESH_TOKEN_REUSED = "refresh_token.reused"
PASSWORD_CHANGED = "password.changed"
PASSWORD_RESET = "password.reset"            # details.by: admin, or the recovery flow
EMAIL_CHANGE_REQUESTED = "email.change_requested"
EMAIL_CHANGE_CONFIRMED = "email.change_confirmed"
TWO_FACTOR_ENABLED = "two_factor.enabled"
TWO_FACTOR_DISABLED = "two_factor.disabled"  # details.by: user, admin
RECOVERY_CODE_USED = "recovery_code.used"
PASSKEY_ADDED = "passkey.added"
PASSKEY_REMOVED = "passkey.removed"
SESSION_REVOKED = "session.revoked"          # details.by; details.session or .count
ACCOUNT_BLOCKED = "account.blocked"
ACCOUNT_UNBLOCKED = "account.unblocked"

KINDS = frozenset(value for name, value in dict(globals()).items()
                  if name.isupper() and isinstance(value, str))
