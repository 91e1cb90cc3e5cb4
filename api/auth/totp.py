"""TOTP (RFC 6238 via pyotp), its secrets at rest, and recovery codes.

30-second steps, one step of tolerance either side. A code is accepted
once per user: the last accepted step is remembered in the database, so
every worker and host sees the same replay memory.

A TOTP secret is stored encrypted (Fernet: AES-128-CBC with an HMAC, from
`cryptography`) under TOTP_ENCRYPTION_KEYS, so a copy of the database alone
(a backup, a replica, a leaked dump) cannot mint codes. The first key
encrypts, every key decrypts: keys are rotated without locking anyone out.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Callable

import pyotp
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from flask import Flask, current_app

STEP = 30
TOLERANCE = 1
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


_EXT = "gatehouse.totp"


class SecretKeyMissing(RuntimeError):
    """A stored TOTP secret was encrypted with a key TOTP_ENCRYPTION_KEYS no
    longer holds (dropped before `flask users rotate-2fa-key` ran)."""


def init_totp(app: Flask) -> None:
    app.extensions[_EXT] = MultiFernet(
        [Fernet(key) for key in app.config["TOTP_ENCRYPTION_KEYS"]])


def _box() -> MultiFernet:
    return current_app.extensions[_EXT]


def seal(secret: str) -> str:
    """A TOTP secret as stored: encrypted with the first key."""
    return _box().encrypt(secret.encode()).decode()


def unseal(stored: str) -> str:
    return _with_key(_box().decrypt, stored)


def reseal(stored: str) -> str:
    """The same secret, encrypted with the first key (a key rotation)."""
    return _with_key(_box().rotate, stored)


def _with_key(operation: Callable[[bytes], bytes], stored: str) -> str:
    try:
        return operation(stored.encode()).decode()
    except InvalidToken:
        raise SecretKeyMissing("a stored TOTP secret cannot be decrypted with any key "
                               "of TOTP_ENCRYPTION_KEYS") from None


def current_time() -> float:
    """The clock TOTP checks read (tests replace it; never sleep)."""
    return time.time()


def new_secret() -> str:
    return pyotp.random_base32(length=32)


def provisioning_uri(secret: str, account: str, issuer: str) -> str:
    totp = pyotp.TOTP(secret, interval=STEP)
    return totp.provisioning_uri(name=account, issuer_name=issuer)


def matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step (now ±1) whose code this is, or None."""
    code = code.strip()
    if not looks_like_totp(code):
        return None
    totp = pyotp.TOTP(secret, interval=STEP)
    now_step = int((current_time() if at is None else at) // STEP)
    for step in range(now_step - TOLERANCE, now_step + TOLERANCE + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def looks_like_totp(code: str) -> bool:
    """Six ASCII digits (str.isdigit alone takes "١٢٣٤٥٦" too)."""
    code = code.strip()
    return len(code) == 6 and code.isascii() and code.isdigit()


def new_recovery_codes() -> list[str]:
    """10 codes of 16 characters (80 bits each), shown once as XXXX-XXXX-XXXX-XXXX."""
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(16))
        codes.append("-".join(raw[i:i + 4] for i in range(0, 16, 4)))
    return codes


def hash_recovery_code(code: str) -> str:
    """Normalised (case, dashes, spaces) then SHA-256: 80 random bits need no
    slow hash, and a fast one keeps 10 candidates cheap to check."""
    normal = "".join(ch for ch in code.upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()
