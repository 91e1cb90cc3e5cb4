"""Access tokens (JWT), refresh tokens, and the 2FA prefix check.

Access tokens are JWTs signed with the one configured algorithm; a user
with 2FA enabled gets them written as ``"2f." + jwt`` with the signed claim
``tfa`` true. Prefix, claim, session and the user's current 2FA status must
all agree on every request.

Refresh tokens are opaque: ``<sid>.<generation>.<random>.<mac>``. Only a
SHA-256 of the current one is stored. The MAC lets the server recognise a
token it really issued for an earlier generation, so a replayed (spent)
token revokes its session while a forged one merely fails.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from flask import Flask, current_app
from sqlalchemy import Row, and_, bindparam, select

from api.errors.exceptions import UnauthorizedError
from api.extensions import db
from api.http import current_request
from api.users.models import AuthSession, User, utcnow

TFA_PREFIX = "2f."
ACCESS = "access"
CHALLENGE = "2fa_challenge"
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "nbf", "exp", "iss", "typ", "tfa")
_EXT = "gatehouse.tokens"


@dataclass(frozen=True)
class TokenKeys:
    algorithm: str
    signing_key: Any
    verifying_key: Any
    issuer: str
    access_ttl: int
    refresh_mac_key: bytes


def init_tokens(app: Flask) -> None:
    """Load keys once at start: no file is read, and no PEM parsed, on a request."""
    algorithm = app.config["JWT_ALGORITHM"]
    if algorithm == "HS256":
        signing = verifying = app.config["JWT_SECRET_KEY"]
    else:
        signing, verifying = _key_pair(algorithm, app.config["JWT_PRIVATE_KEY_FILE"],
                                       app.config["JWT_PUBLIC_KEY_FILE"])
    mac_key = hashlib.sha256(
        b"gatehouse-refresh:" + app.config["SECRET_KEY"].encode()).digest()
    app.extensions[_EXT] = TokenKeys(algorithm, signing, verifying,
                                     app.config["JWT_ISSUER"],
                                     app.config["ACCESS_TOKEN_TTL"], mac_key)


_KEY_KINDS = {"EdDSA": "an Ed25519 or Ed448", "RS256": "an RSA"}


def _key_pair(algorithm: str, private_file: str | None,
              public_file: str | None) -> tuple[Any, Any]:
    """The key objects for an asymmetric algorithm, checked now: PyJWT would
    otherwise parse the PEM on every token (an RSA private key costs
    milliseconds to load), and a wrong or mismatched key would first show as
    a failed login. Errors name the setting, never the key."""
    from config import ConfigError

    if not private_file or not public_file:
        raise ConfigError(f"JWT_ALGORITHM={algorithm} needs JWT_PRIVATE_KEY_FILE "
                          f"and JWT_PUBLIC_KEY_FILE")
    alg = jwt.get_algorithm_by_name(algorithm)
    keys = []
    for name, path, private in (("JWT_PRIVATE_KEY_FILE", private_file, True),
                                ("JWT_PUBLIC_KEY_FILE", public_file, False)):
        try:
            with open(path, "rb") as fh:
                key = alg.prepare_key(fh.read())
        except OSError as exc:
            raise ConfigError(f"cannot read JWT key file: {exc.strerror}: "
                              f"{exc.filename}") from None
        except (jwt.InvalidKeyError, ValueError, TypeError):
            key = None
        if key is None or hasattr(key, "public_key") != private:
            raise ConfigError(f"{name} must hold {_KEY_KINDS[algorithm]} "
                              f"{'private' if private else 'public'} key (PEM) "
                              f"for JWT_ALGORITHM={algorithm}")
        keys.append(key)
    probe = b"gatehouse key check"
    if not alg.verify(probe, keys[1], alg.sign(probe, keys[0])):
        raise ConfigError("JWT_PUBLIC_KEY_FILE is not the public key of JWT_PRIVATE_KEY_FILE")
    return keys[0], keys[1]


def _keys() -> TokenKeys:
    return current_app.extensions[_EXT]


# --- access tokens -----------------------------------------------------------

def encode_jwt(sub: str, sid: str, typ: str, tfa: bool, ttl: int) -> str:
    keys = _keys()
    now = int(time.time())
    claims = {"sub": sub, "sid": sid, "jti": uuid.uuid4().hex, "iat": now,
              "nbf": now, "exp": now + ttl, "iss": keys.issuer, "typ": typ,
              "tfa": tfa}
    return jwt.encode(claims, keys.signing_key, algorithm=keys.algorithm)


def issue_access_token(user: User, session: AuthSession) -> str:
    token = encode_jwt(str(user.id), session.id, ACCESS, session.two_factor,
                       _keys().access_ttl)
    return TFA_PREFIX + token if session.two_factor else token


_DECODE_OPTIONS = {"require": list(REQUIRED_CLAIMS)}


def decode_jwt(token: str, typ: str) -> dict[str, Any]:
    """Verify signature, algorithm, issuer, times, required claims and type."""
    keys = _keys()
    try:
        claims = jwt.decode(token, keys.verifying_key, algorithms=[keys.algorithm],
                            issuer=keys.issuer, options=_DECODE_OPTIONS)
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError(reason="auth.token.expired") from None
    except jwt.InvalidSignatureError:
        raise UnauthorizedError(reason="auth.token.invalid") from None
    except jwt.DecodeError:
        raise UnauthorizedError(reason="auth.token.malformed") from None
    except jwt.InvalidTokenError:
        raise UnauthorizedError(reason="auth.token.invalid") from None
    if claims["typ"] != typ:
        raise UnauthorizedError(reason="auth.token.wrong_type")
    if not isinstance(claims["tfa"], bool) or not isinstance(claims["sid"], str):
        raise UnauthorizedError(reason="auth.token.invalid")
    return claims


def bearer_token() -> str:
    header = current_request().environ.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise UnauthorizedError(reason="auth.token.missing")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedError("Authorization header must be 'Bearer <access_token>'.",
                                reason="auth.token.malformed")
    return token


@dataclass(frozen=True)
class SessionRef:
    """What a request needs of its session (loaded as columns, not an entity)."""

    id: str
    two_factor: bool


_users = User.__table__
_sessions = AuthSession.__table__

# What a request may read of its caller: never the password hash or the TOTP
# secrets. Views that change the account load the entity (current_user()).
CALLER_COLUMNS = (_users.c.id, _users.c.username, _users.c.display_name, _users.c.email,
                  _users.c.is_admin, _users.c.is_blocked, _users.c.totp_enabled,
                  _users.c.created_at, _users.c.updated_at)

# built once: the caller and (if it is theirs) the session's state, one round
# trip, as plain columns (a Core select: no ORM entity to build per request)
_AUTH_QUERY = (
    select(*CALLER_COLUMNS, _sessions.c.id.label("sid"), _sessions.c.two_factor,
           _sessions.c.revoked_at, _sessions.c.expires_at)
    .select_from(_users.outerjoin(_sessions, and_(_sessions.c.id == bindparam("sid"),
                                                  _sessions.c.user_id == _users.c.id)))
    .where(_users.c.id == bindparam("uid"))
)


def authenticate(raw: str) -> tuple[Row, SessionRef]:
    """The caller (a row of CALLER_COLUMNS) and session behind an access
    token: one database query."""
    prefixed = raw.startswith(TFA_PREFIX)
    claims = decode_jwt(raw[len(TFA_PREFIX):] if prefixed else raw, ACCESS)
    if prefixed != claims["tfa"]:
        raise UnauthorizedError(reason="auth.token.2fa_mismatch")
    try:
        user_id = int(claims["sub"])
    except ValueError:
        raise UnauthorizedError(reason="auth.token.invalid") from None
    row = db.session.execute(_AUTH_QUERY, {"uid": user_id, "sid": claims["sid"]}).first()
    if row is None:
        raise UnauthorizedError(reason="auth.account.deleted")
    if row.is_blocked:
        raise UnauthorizedError(reason="auth.account.blocked")
    # 2FA turned on or off since the token was issued: say so, even though
    # that change also revoked the session
    if claims["tfa"] != row.totp_enabled:
        raise UnauthorizedError(reason="auth.token.2fa_mismatch")
    if row.sid is None or row.revoked_at is not None or row.expires_at <= utcnow():
        raise UnauthorizedError(reason="auth.token.revoked")
    if row.two_factor != claims["tfa"]:
        raise UnauthorizedError(reason="auth.token.2fa_mismatch")
    return row, SessionRef(row.sid, row.two_factor)


# --- refresh tokens ----------------------------------------------------------

def _mac(body: str) -> str:
    digest = hmac.new(_keys().refresh_mac_key, body.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode()


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_refresh_token(session_id: str, generation: int) -> str:
    body = f"{session_id}.{generation}.{secrets.token_urlsafe(32)}"
    return f"{body}.{_mac(body)}"


@dataclass(frozen=True)
class RefreshClaim:
    session_id: str
    generation: int


def parse_refresh_token(token: str) -> RefreshClaim:
    """What a refresh token says about itself, if the server issued it."""
    parts = token.split(".")
    if not token.isascii() or len(parts) != 4 or not parts[1].isdigit():
        raise UnauthorizedError(reason="auth.refresh.invalid")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(body), parts[3]):
        raise UnauthorizedError(reason="auth.refresh.invalid")
    return RefreshClaim(parts[0], int(parts[1]))


def token_pair(access_token: str, refresh_token: str) -> dict[str, Any]:
    return {"access_token": access_token, "refresh_token": refresh_token,
            "token_type": "Bearer", "expires_in": _keys().access_ttl}
