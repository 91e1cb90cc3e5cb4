"""What a new password must not be: common, or (optionally) breached.

One marshmallow validator, in the schema field every new password goes
through (api/users/schemas.py PASSWORD: register, password change, the
admin's create and reset, the CLI), so no path can skip it.

- Common: the lower-case form is one of the 100,000 most common passwords
  (api/auth/data/README.md says where they come from) -> 88
  user.password.common. The list is read once per process, at first use,
  into a frozenset; config/gunicorn.conf.py reads it in the master before
  the fork, so the workers share its pages.
- Breached (PASSWORD_BREACH_CHECK=best-effort|strict): a k-anonymity range
  query (Pwned Passwords' API): only the first 5 hex characters of the
  password's SHA-1 leave the process; the answer lists every suffix with
  that prefix, compared here -> 88 user.password.breached. When the service
  does not answer in PASSWORD_BREACH_TIMEOUT seconds (or answers nonsense),
  best-effort lets the password through and logs a warning; strict answers
  77 user.password.check_unavailable: nothing is written, and a retry with
  backoff may succeed (an 88 would tell the client to change a password
  that may be fine).
"""
from __future__ import annotations

import gzip
import hashlib
import logging
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from flask import current_app, has_app_context
from marshmallow import ValidationError, validate

from api.errors.exceptions import DatabaseRollbackError, ReasonMessage

COMMON_PASSWORDS_FILE = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
COMMON_MESSAGE = "This password is one of the most common passwords; choose another."
BREACHED_MESSAGE = "This password appears in a known data breach; choose another."
# a range answer is ~30 KiB (~800 suffixes, ~1,000 with padding)
_MAX_RANGE_BYTES = 1 << 20

log = logging.getLogger(__name__)
_lock = threading.Lock()
_common: frozenset[str] | None = None


def common_passwords() -> frozenset[str]:
    """The list, read on first use (once per process)."""
    global _common
    if _common is None:
        with _lock:
            if _common is None:
                with gzip.open(COMMON_PASSWORDS_FILE, "rt", encoding="utf-8") as file:
                    _common = frozenset(line for line in file.read().split("\n") if line)
    return _common


def is_common(password: str) -> bool:
    return password.lower() in common_passwords()


class BreachCheckUnavailable(Exception):
    """The range service did not answer usefully (the cause is chained)."""


def breach_count(password: str, url: str, timeout: float) -> int:
    """How often the range service has seen ``password`` (0: never).

    Sends only the first 5 characters of the SHA-1; asks for padding, so
    the size of the answer does not tell an observer the prefix either."""
    digest = hashlib.sha1(password.encode("utf-8", "surrogatepass"),
                          usedforsecurity=False).hexdigest().upper()
    prefix, suffix = digest[:5], digest[5:]
    request = urllib.request.Request(url + prefix, headers={
        "Add-Padding": "true", "User-Agent": "gatehouse-password-check"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(_MAX_RANGE_BYTES + 1)
    except (OSError, ValueError, urllib.error.URLError) as error:  # timeouts are OSErrors
        raise BreachCheckUnavailable(type(error).__name__) from error
    if len(body) > _MAX_RANGE_BYTES:
        raise BreachCheckUnavailable("answer too large")
    try:
        text = body.decode("ascii")
    except UnicodeDecodeError as error:
        raise BreachCheckUnavailable("answer is not ASCII") from error
    for line in text.splitlines():
        candidate, _, count = line.partition(":")
        if candidate.strip().upper() == suffix:
            try:
                return int(count.strip())  # padding entries count 0
            except ValueError as error:
                raise BreachCheckUnavailable("malformed answer") from error
    return 0


def _close_read_transaction() -> None:
    """No transaction stays open across the network call: on SQLite a
    writing request's transaction holds the one write lock (api/db.py), and
    on PostgreSQL it would idle a pooled connection. Only a transaction
    that has read and not written is ended (what it read loads again)."""
    from api.db import end_read_transaction
    from api.extensions import db

    session = db.session()  # this request's Session (in_transaction is not proxied)
    if session.in_transaction() and not (session.new or session.dirty or session.deleted):
        end_read_transaction()


def check_breached(password: str, config: Any) -> None:
    """Raise the 88 (breached) or, in strict mode, the 77 (unavailable)."""
    mode = config["PASSWORD_BREACH_CHECK"]
    _close_read_transaction()
    try:
        count = breach_count(password, config["PASSWORD_BREACH_URL"],
                             config["PASSWORD_BREACH_TIMEOUT"])
    except BreachCheckUnavailable as error:
        # the cause names the failure, never the password or its hash
        log.warning("breached-password check unavailable (%s): password %s", error,
                    "refused (strict)" if mode == "strict" else "accepted (best-effort)")
        if mode == "strict":
            raise DatabaseRollbackError(reason="user.password.check_unavailable") from None
        return
    if count > 0:
        raise ValidationError(ReasonMessage(BREACHED_MESSAGE, "user.password.breached"))


class AcceptablePassword(validate.Validator):
    """Refuses common passwords, and breached ones when the check is on.

    ``length`` is the field's Length rule: a password it refuses is not
    checked further (one message, and no network call for it)."""

    error = COMMON_MESSAGE

    def __init__(self, length: validate.Length) -> None:
        self.length = length

    def _repr_args(self) -> str:
        return f"length={self.length!r}"

    def __call__(self, value: str) -> str:
        if not isinstance(value, str):
            return value
        low, high = self.length.min or 0, self.length.max or len(value)
        if not low <= len(value) <= high:
            return value
        if is_common(value):
            raise ValidationError(ReasonMessage(COMMON_MESSAGE, "user.password.common"))
        if has_app_context() and current_app.config["PASSWORD_BREACH_CHECK"] != "off":
            check_breached(value, current_app.config)
        return value
