"""The keys of access tokens: one signs, several verify, each named by a key id.

A token names its key in the JWT header's ``kid``. For EdDSA and RS256 the
key id is the RFC 7638 thumbprint of the public key (computed from the key,
never configured by hand, so every instance and every resource server agree
on it); for HS256 it is a keyed hash of the secret, which says nothing about
the secret. The ring verifies with the signer's own public key and with the
public keys of ``JWT_VERIFY_KEY_FILES`` (the next key before a rotation, the
previous one after it), so keys rotate without refusing any live token.

Everything is read and checked once at start-up: no file is read, and no
PEM parsed, on a request. A wrong, swapped or mismatched key stops the app
with a line naming the setting (and the file), never the key.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Mapping

import jwt

_KEY_KINDS = {"EdDSA": "an Ed25519 or Ed448", "RS256": "an RSA"}
# RFC 7638 section 3.2: the required members of each key type, in the thumbprint
_THUMBPRINT_MEMBERS = {"OKP": ("crv", "kty", "x"), "RSA": ("e", "kty", "n")}


@dataclass(frozen=True)
class KeyRing:
    """The signing key and its id, the keys that verify by id, and the JWK Set."""

    algorithm: str
    signing_key: Any
    kid: str
    verifying: Mapping[str, Any]
    jwks: tuple[Mapping[str, Any], ...]
    # the exact header segment this server writes for each key id -> the key:
    # a token of ours finds its key with one dict lookup, no header parsing
    by_header: Mapping[str, Any]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): the key id of a public key."""
    members = _THUMBPRINT_MEMBERS[jwk["kty"]]
    canonical = json.dumps({name: jwk[name] for name in members}, separators=(",", ":"),
                           sort_keys=True)
    return _b64(hashlib.sha256(canonical.encode()).digest())


def secret_kid(secret: str) -> str:
    """The key id of an HS256 secret: an HMAC keyed with the secret, truncated.

    Anyone holding a token can already test guesses of the secret against
    its signature; the id adds nothing to that, and differs per secret, so a
    changed secret shows as an unknown key rather than a forged token."""
    return "hs-" + _b64(hmac.new(secret.encode(), b"gatehouse key id", hashlib.sha256)
                        .digest()[:12])


def public_jwk(algorithm: str, key: Any) -> dict[str, Any]:
    """A public key as a JWK (PyJWT's own export), with kid, alg and use."""
    exported = jwt.get_algorithm_by_name(algorithm).to_jwk(key, as_dict=True)
    exported.pop("key_ops", None)  # RFC 7517 4.3: not together with "use"
    jwk: dict[str, Any] = {"kid": thumbprint(exported), "kty": exported["kty"],
                           "alg": algorithm, "use": "sig"}
    for name in sorted(exported):
        jwk.setdefault(name, exported[name])
    return jwk


def header_segment(algorithm: str, kid: str) -> str:
    """The header segment PyJWT writes for ``headers={"kid": kid}`` (sorted
    keys, compact JSON); a PyJWT writing it otherwise only loses the fast path."""
    header = json.dumps({"alg": algorithm, "kid": kid, "typ": "JWT"}, separators=(",", ":"),
                        sort_keys=True)
    return _b64(header.encode())


def _load(algorithm: str, setting: str, path: str, private: bool) -> Any:
    from config import ConfigError

    try:
        with open(path, "rb") as fh:
            key = jwt.get_algorithm_by_name(algorithm).prepare_key(fh.read())
    except OSError as exc:
        raise ConfigError(f"cannot read JWT key file: {exc.strerror}: "
                          f"{exc.filename}") from None
    except (jwt.InvalidKeyError, ValueError, TypeError):
        key = None
    if key is None or hasattr(key, "public_key") != private:
        where = f" ({path})" if setting == "JWT_VERIFY_KEY_FILES" else ""
        raise ConfigError(f"{setting} must hold {_KEY_KINDS[algorithm]} "
                          f"{'private' if private else 'public'} key (PEM) "
                          f"for JWT_ALGORITHM={algorithm}{where}")
    return key


def _key_pair(algorithm: str, private_file: str | None,
              public_file: str | None) -> tuple[Any, Any]:
    """The signing key and its public key, checked now: PyJWT would
    otherwise parse the PEM on every token (an RSA private key costs
    milliseconds to load), and a wrong or mismatched key would first show as
    a failed login."""
    from config import ConfigError

    if not private_file or not public_file:
        raise ConfigError(f"JWT_ALGORITHM={algorithm} needs JWT_PRIVATE_KEY_FILE "
                          f"and JWT_PUBLIC_KEY_FILE")
    private = _load(algorithm, "JWT_PRIVATE_KEY_FILE", private_file, True)
    public = _load(algorithm, "JWT_PUBLIC_KEY_FILE", public_file, False)
    alg = jwt.get_algorithm_by_name(algorithm)
    probe = b"gatehouse key check"
    if not alg.verify(probe, public, alg.sign(probe, private)):
        raise ConfigError("JWT_PUBLIC_KEY_FILE is not the public key of JWT_PRIVATE_KEY_FILE")
    return private, public


def load_key_ring(config: Mapping[str, Any]) -> KeyRing:
    """The ring of an app's settings (JWT_ALGORITHM and its keys)."""
    algorithm = config["JWT_ALGORITHM"]
    if algorithm == "HS256":
        secret = config["JWT_SECRET_KEY"]
        kid = secret_kid(secret)
        return KeyRing(algorithm, secret, kid, MappingProxyType({kid: secret}), (),
                       MappingProxyType({header_segment(algorithm, kid): secret}))
    private, public = _key_pair(algorithm, config["JWT_PRIVATE_KEY_FILE"],
                                config["JWT_PUBLIC_KEY_FILE"])
    publics = [public] + [_load(algorithm, "JWT_VERIFY_KEY_FILES", path, False)
                          for path in config.get("JWT_VERIFY_KEY_FILES") or ()]
    verifying: dict[str, Any] = {}
    jwks: list[dict[str, Any]] = []
    for key in publics:
        jwk = public_jwk(algorithm, key)
        if jwk["kid"] not in verifying:  # the same key listed twice is one key
            verifying[jwk["kid"]] = key
            jwks.append(jwk)
    by_header = {header_segment(algorithm, kid): key for kid, key in verifying.items()}
    return KeyRing(algorithm, private, jwks[0]["kid"], MappingProxyType(verifying),
                   tuple(jwks), MappingProxyType(by_header))
