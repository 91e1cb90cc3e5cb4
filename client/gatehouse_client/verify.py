"""Verify Gatehouse access tokens in another service (a resource server).

A resource server checks a token locally with Gatehouse's public keys, read
from its JWK Set (``GET /.well-known/jwks.json``) and cached: the key named
by the token's ``kid``, the signature (EdDSA or RS256 only: the algorithm is
the published key's, never the token's choice), ``iss``, ``aud`` (this
service must be one of the token's audiences), ``exp``/``nbf``/``iat``, the
token type, and the ``2f.`` prefix against the signed ``tfa`` claim (adding
or stripping the prefix by hand never passes). Failures raise the client's
own :class:`AuthRequired` with the server's reasons, so a resource server
can answer exactly as Gatehouse would.

What a local check cannot know: a session revoked (logout, password change,
blocked account) after the token was issued. Such a token passes here until
it expires (``ACCESS_TOKEN_TTL``, 15 minutes by default); an operation that
must see a revocation at once asks Gatehouse (e.g. ``GET /v1/users/me``).

Needs PyJWT with its crypto extra: ``pip install "./client[verify]"``. The
rest of the package needs only requests; importing ``gatehouse_client`` does
not import PyJWT.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import jwt

from gatehouse_client.errors import AuthRequired, TransportError

TFA_PREFIX = "2f."
ALGORITHMS = ("EdDSA", "RS256")
REQUIRED_CLAIMS = ("sub", "sid", "jti", "iat", "nbf", "exp", "iss", "aud", "typ", "tfa")
_DESCRIPTIONS = {
    "auth.token.missing": "An access token is required.",
    "auth.token.malformed": "The access token is malformed.",
    "auth.token.invalid": "The access token is invalid.",
    "auth.token.expired": "The access token has expired.",
    "auth.token.wrong_type": "This token cannot be used here.",
    "auth.token.unknown_key": "The access token names a signing key (kid) this service "
                              "does not know: a retired or foreign key.",
    "auth.token.wrong_audience": "The access token was not issued for this service (its "
                                 "`aud` does not match).",
    "auth.token.2fa_mismatch": "Two-factor authentication mismatch: the token does not "
                               "match the account's 2FA status.",
    "auth.permission.2fa_required": "This resource requires a session signed in with "
                                    "two-factor authentication.",
}


def _refused(reason: str) -> AuthRequired:
    return AuthRequired(status=401, code=99, message="Auth Required",
                        description=_DESCRIPTIONS[reason], reason=reason)


@dataclass(frozen=True)
class VerifiedToken:
    """What a verified access token says."""

    user_id: int
    session_id: str
    two_factor: bool
    expires_at: int
    claims: dict[str, Any] = field(repr=False)


class JwksKeys:
    """The public keys of one JWK Set URL, cached by PyJWT's PyJWKClient for
    ``cache_seconds``. A key id the cache does not know refetches the set (a
    key published since), at most once per ``refresh_cooldown`` seconds, so
    tokens with made-up key ids cannot make this service hammer Gatehouse."""

    def __init__(self, jwks_url: str, *, cache_seconds: float = 300,
                 refresh_cooldown: float = 30, timeout: float = 5) -> None:
        self.jwks_url = jwks_url
        self.refresh_cooldown = refresh_cooldown
        self._client = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=cache_seconds,
                                       timeout=timeout, cooldown_duration=0)
        self._lock = threading.Lock()
        self._refreshed_at = float("-inf")

    def _signing_keys(self, refresh: bool) -> list[jwt.PyJWK]:
        try:
            return self._client.get_signing_keys(refresh=refresh)
        except jwt.PyJWKClientConnectionError as exc:
            raise TransportError(status=None, code=None,
                                 message=f"cannot fetch the JWK Set {self.jwks_url}: "
                                         f"{exc}") from None
        except jwt.PyJWTError as exc:
            raise TransportError(status=None, code=None,
                                 message=f"the JWK Set {self.jwks_url} is unusable: "
                                         f"{exc}") from None

    def key(self, kid: str) -> jwt.PyJWK | None:
        """The published key with this id (None: not published)."""
        with self._lock:
            found = self._client.match_kid(self._signing_keys(False), kid)
            now = time.monotonic()
            if found is None and now - self._refreshed_at >= self.refresh_cooldown:
                self._refreshed_at = now
                found = self._client.match_kid(self._signing_keys(True), kid)
            return found


class TokenVerifier:
    """Verifies access tokens for one service (``audience``) against one JWK Set."""

    def __init__(self, jwks_url: str | JwksKeys, *, audience: str, issuer: str = "gatehouse",
                 leeway: float = 0, **jwks_options: Any) -> None:
        self.keys = (jwks_url if isinstance(jwks_url, JwksKeys)
                     else JwksKeys(jwks_url, **jwks_options))
        self.audience = audience
        self.issuer = issuer
        self.leeway = leeway

    def verify(self, token: str, *, require_two_factor: bool = False) -> VerifiedToken:
        """The token's facts, or AuthRequired with the reason it is refused
        (TransportError when the JWK Set cannot be fetched)."""
        if not isinstance(token, str) or not token:
            raise _refused("auth.token.missing")
        prefixed = token.startswith(TFA_PREFIX)
        raw = token[len(TFA_PREFIX):] if prefixed else token
        try:
            header = jwt.get_unverified_header(raw)
        except jwt.InvalidTokenError:
            raise _refused("auth.token.malformed") from None
        kid = header.get("kid")
        if header.get("alg") not in ALGORITHMS or not isinstance(kid, str) or not kid:
            raise _refused("auth.token.invalid")
        key = self.keys.key(kid)
        if key is None:
            raise _refused("auth.token.unknown_key")
        claims = self._decode(raw, key)
        if claims["typ"] != "access":
            raise _refused("auth.token.wrong_type")
        if (not isinstance(claims["tfa"], bool) or not isinstance(claims["sid"], str)
                or not isinstance(claims["sub"], str) or not claims["sub"].isdigit()):
            raise _refused("auth.token.invalid")
        if prefixed != claims["tfa"]:
            raise _refused("auth.token.2fa_mismatch")
        if require_two_factor and not claims["tfa"]:
            raise _refused("auth.permission.2fa_required")
        return VerifiedToken(int(claims["sub"]), claims["sid"], claims["tfa"], claims["exp"],
                             claims)

    def _decode(self, raw: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(raw, key.key, algorithms=[key.algorithm_name],
                              audience=self.audience, issuer=self.issuer, leeway=self.leeway,
                              options={"require": list(REQUIRED_CLAIMS)})
        except jwt.ExpiredSignatureError:
            raise _refused("auth.token.expired") from None
        except jwt.InvalidAudienceError:
            raise _refused("auth.token.wrong_audience") from None
        except jwt.InvalidSignatureError:  # a DecodeError to PyJWT, a forgery to us
            raise _refused("auth.token.invalid") from None
        except jwt.DecodeError:
            raise _refused("auth.token.malformed") from None
        except jwt.InvalidTokenError:
            raise _refused("auth.token.invalid") from None


_sources: dict[str, JwksKeys] = {}
_sources_lock = threading.Lock()


def verify_access_token(token: str, jwks_url: str, *, audience: str,
                        issuer: str = "gatehouse",
                        require_two_factor: bool = False) -> VerifiedToken:
    """Verify a Gatehouse access token (as the client sent it, ``2f.`` prefix
    included) for the service ``audience``; one cached JWK Set per URL is
    kept for the life of the process. Raises AuthRequired (``reason`` says
    why) or TransportError (the JWK Set could not be fetched)."""
    with _sources_lock:
        keys = _sources.get(jwks_url)
        if keys is None:
            keys = _sources[jwks_url] = JwksKeys(jwks_url)
    verifier = TokenVerifier(keys, audience=audience, issuer=issuer)
    return verifier.verify(token, require_two_factor=require_two_factor)
