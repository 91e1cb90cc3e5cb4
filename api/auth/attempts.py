"""Failed password and second-factor checks, counted per account and per
client address, with exponential backoff (SPEC §10).

Only failures count, and only against an identity the request proved or
the client address: the account a login name resolved to, the account of
a challenge token whose signature was checked, the bearer's own account.
Nothing a client merely typed names a bucket.

The policy, per account (and, with its own free count, per address):
``AUTH_FAILURES_FREE`` failures cost nothing; each further one makes the
account wait ``AUTH_BACKOFF_BASE`` · 2^k seconds (k = 0, 1, 2, …) before
the next check, at most ``AUTH_BACKOFF_MAX`` (never more than 15 minutes);
the count is forgotten ``AUTH_FAILURES_WINDOW`` seconds after the first
failure, and a proven password resets the account's count. While an
account waits, every check for it answers 429 ``auth.attempts.too_many``
with Retry-After, the correct password too (else the wait would hold no
one), and no hash is computed. Someone else's failures therefore delay
the owner's next check by at most ``AUTH_BACKOFF_MAX``. From an address
where the account completed a login within TRUST_TTL, the check waits
only on the failures made from that address (each failure counts for the
account and for the account at its address), so an attacker elsewhere
does not delay the owner there at all; one who keeps failing the moment
each wait ends can hold the account only from other addresses.

The counters live in the limiter's storage (Redis when REDIS_URL is set,
so every worker and host shares them; memory otherwise). A failing
storage call is logged with the request id and the counting carries on
in this process's memory (degraded: per process) rather than stopping
every login during a Redis outage.
"""
from __future__ import annotations

import hashlib
import logging
import math
import re
import time
from dataclasses import dataclass

from flask import current_app, g, has_request_context
from flask_limiter.util import get_remote_address
from limits.storage import MemoryStorage, Storage

from api.errors.exceptions import TooManyRequestsError
from api.extensions import limiter

log = logging.getLogger("api.limits")

# a check that started but never reported holds its slot this long at most
SLOT_TTL = 30
_memory = MemoryStorage()
RETRY_STORAGE_AFTER = 5
# an address the account completed a login from is trusted for it this long
TRUST_TTL = 30 * 24 * 3600
_storage_down_until = 0.0


_PLAIN = re.compile(r"[0-9A-Za-z._:-]{1,64}")


def storable(text: str) -> str:
    """A storage key part: short plain ASCII (an IPv4/IPv6 address, an id) as
    it is, anything else (a lone surrogate, a separator, 4 KB) hashed."""
    if _PLAIN.fullmatch(text):
        return text
    return "h" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def client_address() -> str:
    """The client address as a storable key (Flask-Limiter's key function)."""
    return storable(get_remote_address() or "-")


@dataclass(frozen=True)
class _Bucket:
    name: str
    free: int


def _enabled() -> bool:
    # outside a request (the CLI) there is no client to hold back
    return has_request_context() and bool(current_app.config["RATELIMIT_ENABLED"])


def _key(*parts: object) -> str:
    return ":".join([current_app.config["RATELIMIT_KEY_PREFIX"], "authfail",
                     *(str(p) for p in parts)])


def _storage() -> Storage:
    try:
        return limiter.storage
    except AssertionError:  # limiter not initialised for this app
        return _memory


def _call(op: str, *args: object) -> object:
    """One storage call; a failure is logged (with the request id, by the
    "api" log handler) and answered from this process's memory, which then
    answers alone for RETRY_STORAGE_AFTER seconds (a storage that hangs must
    not hold every check)."""
    global _storage_down_until
    if time.time() < _storage_down_until:
        return getattr(_memory, op)(*args)
    try:
        return getattr(_storage(), op)(*args)
    except Exception as exc:
        _storage_down_until = time.time() + RETRY_STORAGE_AFTER
        log.error("rate-limit storage failed (%s in %s); counting in process memory "
                  "for %ss", type(exc).__name__, op, RETRY_STORAGE_AFTER)
        return getattr(_memory, op)(*args)


def _trusted(account_id: int) -> bool:
    """Whether this account completed a login from this address lately."""
    return bool(int(_call("get", _key(f"trust:{int(account_id)}@{client_address()}"))))


def _buckets(account_id: int | None, unknown_login: str | None,
             checking: bool = False) -> list[_Bucket]:
    """The buckets a check must find free (`checking`), or a failure counts in.

    An account's failures count in its own bucket and in its bucket for
    this address. From an address where the account completed a login
    within TRUST_TTL, only the latter holds the check: failures made
    elsewhere do not delay the owner there at all."""
    config = current_app.config
    buckets = [_Bucket(f"addr:{client_address()}", config["AUTH_FAILURES_FREE_PER_ADDRESS"])]
    if account_id is not None:
        account = _Bucket(f"acct:{int(account_id)}", config["AUTH_FAILURES_FREE"])
        pair = _Bucket(f"acct:{int(account_id)}@{client_address()}", config["AUTH_FAILURES_FREE"])
        if not checking:
            buckets += [account, pair]
        else:
            buckets.append(pair if _trusted(account_id) else account)
    elif unknown_login is not None:
        # a login that names no account backs off as an account would, so a
        # 429 does not tell which names exist; it can lock no owner out (an
        # account, even one created later under that name, has its own bucket)
        name = "name:" + storable(unknown_login.lower())
        buckets.append(_Bucket(name, config["AUTH_FAILURES_FREE"]))
    return buckets


def backoff(failures: int, free: int) -> int:
    """Seconds to wait after the `failures`-th failure (0 while free)."""
    config = current_app.config
    extra = failures - free
    if extra <= 0:
        return 0
    cap = config["AUTH_BACKOFF_MAX"]
    return min(cap, config["AUTH_BACKOFF_BASE"] * 2 ** min(extra - 1, 32))


def _wait(bucket: _Bucket) -> tuple[int, int]:
    """(failures so far, seconds this bucket must still wait)."""
    failures = int(_call("get", _key(bucket.name)))  # type: ignore[call-overload]
    if failures <= bucket.free:
        return failures, 0
    lock = _key(bucket.name, "lock", failures)
    if not int(_call("get", lock)):  # type: ignore[call-overload]
        return failures, 0
    until = float(_call("get_expiry", lock))  # type: ignore[arg-type]
    return failures, max(1, math.ceil(until - time.time()))


def check(account_id: int | None = None, *, unknown_login: str | None = None) -> None:
    """Before a password or code is checked: 429 while the address or the
    account waits out its backoff. Also one check at a time per bucket and
    failure level once past the free count, so parallel guesses sent the
    moment a wait ends are still one guess."""
    if not _enabled():
        return
    for bucket in _buckets(account_id, unknown_login, checking=True):
        failures, wait = _wait(bucket)
        if wait:
            raise _too_many(wait)
        if failures >= bucket.free:
            slot = _key(bucket.name, "slot", failures)
            held = g.setdefault("attempt_slots", set())
            if slot in held:  # a second check in one request (password, then code)
                continue
            if int(_call("incr", slot, SLOT_TTL)) > 1:  # type: ignore[call-overload]
                raise _too_many(1)
            held.add(slot)


def failed(account_id: int | None = None, *, unknown_login: str | None = None) -> None:
    """A password or code was wrong: count it for the address and account,
    and start the backoff that count has earned."""
    if not _enabled():
        return
    window = current_app.config["AUTH_FAILURES_WINDOW"]
    for bucket in _buckets(account_id, unknown_login):
        failures = int(_call("incr", _key(bucket.name), window))  # type: ignore[call-overload]
        wait = backoff(failures, bucket.free)
        if wait:
            _call("incr", _key(bucket.name, "lock", failures), wait)


def passed(account_id: int) -> None:
    """The account's password was proven: its failures are forgotten (the
    address keeps its count: it may be spraying other accounts)."""
    if not _enabled():
        return
    _call("clear", _key(f"acct:{int(account_id)}"))
    _call("clear", _key(f"acct:{int(account_id)}@{client_address()}"))
    _call("incr", _key(f"trust:{int(account_id)}@{client_address()}"), TRUST_TTL)


def release_slots(_: BaseException | None = None) -> None:
    """When a request ends, the check slots it held are free again (a teardown
    hook): the next check at that level may run."""
    for slot in g.pop("attempt_slots", ()):
        _call("clear", slot)


def _too_many(wait: int) -> TooManyRequestsError:
    return TooManyRequestsError(reason="auth.attempts.too_many",
                                headers={"Retry-After": str(wait)})
