"""Access tokens (JWT), refresh tokens, and the 2FA prefix check.

Access tokens are JWTs signed with the one configured algorithm; a user
with 2FA enabled gets them written as ``"2f." + jwt`` with the signed claim
``tfa`` true. Prefix, claim, session and the user's current 2FA status must
all agree on every request. Every token names its signing key in the
header's ``kid`` and carries the configured audiences as ``aud``; both are
required, and the key ring (api/auth/keys.py) verifies with every key it
holds, so signing keys rotate without refusing live tokens.

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
from datetime import datetime, timezone
from typing import Any

import jwt
from flask import Flask, current_app
from sqlalchemy import Row, bindparam, select

from api.auth.keys import KeyRing, load_key_ring
from api.auth.models import AuthSession
from api.errors.exceptions import AuthRequiredError
from api.extensions import db
from api.requests import current_request
from api.users.models import User, utcnow

TFA_PREFIX = "2f."
ACCESS = "access"
CHALLENGE = "2fa_challenge"
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "nbf", "exp", "iss", "aud", "typ", "tfa")
_EXT = "gatehouse.tokens"


@dataclass(frozen=True)
class TokenKeys:
    ring: KeyRing
    issuer: str
    # every configured audience verifies; tokens carry them all (one: a string)
    audience: tuple[str, ...]
    audience_claim: str | list[str]
    access_ttl: int
    refresh_mac_key: bytes

    @property
    def algorithm(self) -> str:
        return self.ring.algorithm

    @property
    def signing_key(self) -> Any:
        return self.ring.signing_key


def init_tokens(app: Flask) -> None:
    """Load keys once at start: no file is read, and no PEM parsed, on a request."""
    ring = load_key_ring(app.config)
    audience = tuple(app.config["JWT_AUDIENCE"])
    mac_key = hashlib.sha256(
        b"gatehouse-refresh:" + app.config["SECRET_KEY"].encode()).digest()
    app.extensions[_EXT] = TokenKeys(ring, app.config["JWT_ISSUER"], audience,
                                     audience[0] if len(audience) == 1 else list(audience),
                                     app.config["ACCESS_TOKEN_TTL"], mac_key)


def key_ring(app: Flask | None = None) -> KeyRing:
    """The app's keys (for the JWK Set)."""
    return (app or current_app).extensions[_EXT].ring


def _keys() -> TokenKeys:
    return current_app.extensions[_EXT]


# --- access tokens -----------------------------------------------------------

def encode_jwt(sub: str, sid: str, typ: str, tfa: bool, ttl: int, *,
               auth_time: datetime | None = None) -> str:
    keys = _keys()
    now = int(time.time())
    claims = {"sub": sub, "sid": sid, "jti": uuid.uuid4().hex, "iat": now,
              "nbf": now, "exp": now + ttl, "iss": keys.issuer, "typ": typ,
              "tfa": tfa, "aud": keys.audience_claim}
    if auth_time is not None:  # as OpenID Connect's: seconds since the epoch
        claims["auth_time"] = int(auth_time.replace(tzinfo=timezone.utc).timestamp())
    return jwt.encode(claims, keys.signing_key, algorithm=keys.algorithm,
                      headers={"kid": keys.ring.kid})


def issue_access_token(user: User, session: AuthSession) -> str:
    token = encode_jwt(str(user.id), session.id, ACCESS, session.two_factor,
                       _keys().access_ttl, auth_time=session.auth_time)
    return TFA_PREFIX + token if session.two_factor else token


_DECODE_OPTIONS = {"require": list(REQUIRED_CLAIMS)}


def _verifying_key(keys: TokenKeys, token: str) -> Any:
    """The key named by the token's ``kid``: one dict lookup for a header
    this server writes, else the header parsed."""
    key = keys.ring.by_header.get(token.partition(".")[0])
    if key is not None:
        return key
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.InvalidTokenError:
        raise AuthRequiredError(reason="auth.token.malformed") from None
    if kid is None:
        raise _without_kid(keys, token)
    key = keys.ring.verifying.get(kid) if isinstance(kid, str) else None
    if key is None:
        raise AuthRequiredError(reason="auth.token.unknown_key")
    return key


def _without_kid(keys: TokenKeys, token: str) -> AuthRequiredError:
    """A token without a key id. One this server signed before tokens had key
    ids and audiences (no ``kid``, no ``aud``, a good signature) expired with
    that upgrade: the client refreshes it once, as after any expiry, and no
    one is logged out. A token without ``kid`` is otherwise never accepted."""
    for key in keys.ring.verifying.values():
        try:
            claims = jwt.decode(token, key, algorithms=[keys.algorithm], issuer=keys.issuer,
                                options={"verify_exp": False, "verify_aud": False})
        except jwt.InvalidTokenError:
            continue
        if "aud" not in claims:
            return AuthRequiredError(reason="auth.token.expired")
    return AuthRequiredError(reason="auth.token.invalid")


def decode_jwt(token: str, typ: str) -> dict[str, Any]:
    """Verify key id, signature, algorithm, issuer, audience, times, required
    claims and type."""
    keys = _keys()
    key = _verifying_key(keys, token)
    try:
        claims = jwt.decode(token, key, algorithms=[keys.algorithm], issuer=keys.issuer,
                            audience=keys.audience, options=_DECODE_OPTIONS)
    except jwt.ExpiredSignatureError:
        raise AuthRequiredError(reason="auth.token.expired") from None
    except jwt.InvalidAudienceError:
        raise AuthRequiredError(reason="auth.token.wrong_audience") from None
    except jwt.InvalidSignatureError:
        raise AuthRequiredError(reason="auth.token.invalid") from None
    except jwt.DecodeError:
        raise AuthRequiredError(reason="auth.token.malformed") from None
    except jwt.InvalidTokenError:
        raise AuthRequiredError(reason="auth.token.invalid") from None
    if claims["typ"] != typ:
        raise AuthRequiredError(reason="auth.token.wrong_type")
    if not isinstance(claims["tfa"], bool) or not isinstance(claims["sid"], str):
        raise AuthRequiredError(reason="auth.token.invalid")
    return claims


def bearer_token() -> str:
    header = current_request().environ.get("HTTP_AUTHORIZATION", "")
    if not header:
        raise AuthRequiredError(reason="auth.token.missing")
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthRequiredError("Authorization header must be 'Bearer <access_token>'.",
                                reason="auth.token.malformed")
    return token


@dataclass(frozen=True)
class SessionRef:
    """What a request needs of its session (loaded as columns, not an entity)."""

    id: str
    two_factor: bool
    # the session's last password or second-factor proof (api/auth/reauth.py)
    auth_time: datetime | None = None


_users = User.__table__
_sessions = AuthSession.__table__

# What a request may read of its caller: never the password hash or the TOTP
# secrets. Views that change the account load the entity (current_user()).
CALLER_COLUMNS = (_users.c.id, _users.c.username, _users.c.display_name, _users.c.email,
                  _users.c.is_admin, _users.c.is_blocked, _users.c.totp_enabled,
                  _users.c.has_passkey,
                  _users.c.created_at, _users.c.updated_at, _users.c.email_verified,
                  _users.c.locale)

# built once: the session (by its primary key) and its owner, one round trip,
# as plain columns (a Core select: no ORM entity to build per request). The
# only condition is the session id, so the plan is the same for every user:
# a primary-key lookup in auth_sessions, then one in users, however many
# sessions the user ever had and however fresh the planner's statistics are.
# (A condition on user_id here would let PostgreSQL prefer the user_id index
# and read the user's whole session history.) The owner is compared in Python.
_AUTH_QUERY = (
    select(*CALLER_COLUMNS, _sessions.c.id.label("sid"), _sessions.c.user_id,
           _sessions.c.two_factor, _sessions.c.revoked_at, _sessions.c.expires_at,
           _sessions.c.auth_time)
    .select_from(_sessions.join(_users, _users.c.id == _sessions.c.user_id))
    .where(_sessions.c.id == bindparam("sid"))
)

# only when the session is gone or not the caller's (a failure): why
_CALLER_QUERY = select(*CALLER_COLUMNS).where(_users.c.id == bindparam("uid"))


def authenticate(raw: str) -> tuple[Row, SessionRef]:
    """The caller (a row of CALLER_COLUMNS) and session behind an access
    token: one database query (two when the token is refused because its
    session is gone)."""
    prefixed = raw.startswith(TFA_PREFIX)
    claims = decode_jwt(raw[len(TFA_PREFIX):] if prefixed else raw, ACCESS)
    if prefixed != claims["tfa"]:
        raise AuthRequiredError(reason="auth.token.2fa_mismatch")
    try:
        user_id = int(claims["sub"])
    except ValueError:
        raise AuthRequiredError(reason="auth.token.invalid") from None
    row = db.session.execute(_AUTH_QUERY, {"sid": claims["sid"]}).first()
    if row is None or row.user_id != user_id:
        # no such session of this user (pruned, or the account deleted with
        # its sessions): the account's state says which refusal it is
        raise _without_session(claims, user_id)
    if row.is_blocked:
        raise AuthRequiredError(reason="auth.account.blocked")
    # 2FA turned on or off since the token was issued: say so, even though
    # that change also revoked the session
    # (2FA on: TOTP or a passkey, api/users/models.py User.two_factor_on)
    if claims["tfa"] != (row.totp_enabled or row.has_passkey):
        raise AuthRequiredError(reason="auth.token.2fa_mismatch")
    if row.revoked_at is not None or row.expires_at <= utcnow():
        raise AuthRequiredError(reason="auth.token.revoked")
    if row.two_factor != claims["tfa"]:
        raise AuthRequiredError(reason="auth.token.2fa_mismatch")
    return row, SessionRef(row.sid, row.two_factor, row.auth_time)


def _without_session(claims: dict[str, Any], user_id: int) -> AuthRequiredError:
    """The refusal of a token whose session is not found: the same reasons,
    in the same order, as for a session found."""
    caller = db.session.execute(_CALLER_QUERY, {"uid": user_id}).first()
    if caller is None:
        return AuthRequiredError(reason="auth.account.deleted")
    if caller.is_blocked:
        return AuthRequiredError(reason="auth.account.blocked")
    if claims["tfa"] != caller.totp_enabled:
        return AuthRequiredError(reason="auth.token.2fa_mismatch")
    return AuthRequiredError(reason="auth.token.revoked")


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
        raise AuthRequiredError(reason="auth.refresh.invalid")
    body = ".".join(parts[:3])
    if not hmac.compare_digest(_mac(body), parts[3]):
        raise AuthRequiredError(reason="auth.refresh.invalid")
    return RefreshClaim(parts[0], int(parts[1]))


def token_pair(access_token: str, refresh_token: str) -> dict[str, Any]:
    return {"access_token": access_token, "refresh_token": refresh_token,
            "token_type": "Bearer", "expires_in": _keys().access_ttl}
