"""gatehouse_client.verify without a server: the JWK Set is served by a stub fetch.

The live checks (a real Gatehouse, the example resource server) are in
test_resource_server.py; these pin the rules and the refetch budget.
"""
from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from gatehouse_client import AuthRequired, TransportError
from gatehouse_client.verify import JwksKeys, TokenVerifier

KEY = ed25519.Ed25519PrivateKey.generate()
JWK = {**jwt.algorithms.OKPAlgorithm.to_jwk(KEY.public_key(), as_dict=True),
       "kid": "k1", "alg": "EdDSA", "use": "sig"}


class Stub:
    """Stands in for the HTTP fetch of the JWK Set; counts fetches."""

    def __init__(self, keys: list[dict[str, Any]]) -> None:
        self.keys = keys
        self.fetches = 0

    def __call__(self) -> dict[str, Any]:
        self.fetches += 1
        return {"keys": list(self.keys)}


def _verifier(stub: Stub, **options: Any) -> TokenVerifier:
    keys = JwksKeys("https://auth.example.com/.well-known/jwks.json", **options)
    keys._client.fetch_data = stub  # type: ignore[method-assign]
    return TokenVerifier(keys, audience="notes")


def _token(tfa: bool = False, key: Any = KEY, kid: str | None = "k1", alg: str = "EdDSA",
           **changes: Any) -> str:
    now = int(time.time())
    claims = {"sub": "7", "sid": "s1", "jti": "j", "iat": now, "nbf": now, "exp": now + 60,
              "iss": "gatehouse", "aud": ["gatehouse", "notes"], "typ": "access", "tfa": tfa,
              **changes}
    token = jwt.encode(claims, key, algorithm=alg, headers={"kid": kid} if kid else None)
    return "2f." + token if tfa else token


def _reason(verifier: TokenVerifier, token: Any, **options: Any) -> str | None:
    with pytest.raises(AuthRequired) as refused:
        verifier.verify(token, **options)
    assert refused.value.code == 99 and refused.value.status == 401
    return refused.value.reason


def test_accepts_and_refuses() -> None:
    verifier = _verifier(Stub([JWK]))
    verified = verifier.verify(_token())
    assert (verified.user_id, verified.session_id, verified.two_factor) == (7, "s1", False)
    assert verifier.verify(_token(tfa=True), require_two_factor=True).two_factor is True
    cases = {
        "": "auth.token.missing",
        "garbage": "auth.token.malformed",
        _token(kid=None): "auth.token.invalid",
        _token(key="h" * 40, alg="HS256"): "auth.token.invalid",
        _token(key=ed25519.Ed25519PrivateKey.generate()): "auth.token.invalid",
        _token(kid="k9"): "auth.token.unknown_key",
        _token(exp=int(time.time()) - 5): "auth.token.expired",
        _token(aud="billing"): "auth.token.wrong_audience",
        _token(iss="someone"): "auth.token.invalid",
        _token(typ="2fa_challenge"): "auth.token.wrong_type",
        _token(sub="ada"): "auth.token.invalid",
        _token(tfa=True)[3:]: "auth.token.2fa_mismatch",
        "2f." + _token(): "auth.token.2fa_mismatch",
    }
    for token, reason in cases.items():
        assert _reason(verifier, token) == reason, token
    assert _reason(verifier, _token(), require_two_factor=True) == \
        "auth.permission.2fa_required"
    assert _reason(verifier, None) == "auth.token.missing"


def test_unknown_key_ids_refetch_at_most_once_per_cooldown() -> None:
    stub = Stub([JWK])
    verifier = _verifier(stub, refresh_cooldown=3600)
    verifier.verify(_token())
    for n in range(5):  # made-up key ids: one refetch, then the cooldown holds
        assert _reason(verifier, _token(kid=f"made-up-{n}")) == "auth.token.unknown_key"
    assert stub.fetches == 2


def test_a_key_published_later_is_found_by_refetching() -> None:
    other = ed25519.Ed25519PrivateKey.generate()
    stub = Stub([JWK])
    verifier = _verifier(stub, refresh_cooldown=0)
    verifier.verify(_token())
    stub.keys.append({**jwt.algorithms.OKPAlgorithm.to_jwk(other.public_key(), as_dict=True),
                      "kid": "k2", "alg": "EdDSA", "use": "sig"})
    assert verifier.verify(_token(key=other, kid="k2")).user_id == 7
    assert stub.fetches == 2


def test_an_unusable_jwk_set_is_a_transport_error() -> None:
    def fail() -> dict[str, Any]:
        raise jwt.PyJWKClientConnectionError("connection refused")

    keys = JwksKeys("https://auth.example.com/.well-known/jwks.json")
    keys._client.fetch_data = fail  # type: ignore[method-assign]
    with pytest.raises(TransportError, match="cannot fetch the JWK Set"):
        TokenVerifier(keys, audience="notes").verify(_token())
    with pytest.raises(TransportError, match="is unusable"):
        _verifier(Stub([])).verify(_token())
