"""GET /.well-known/jwks.json: the public keys that verify Gatehouse's access tokens.

A resource server fetches this JWK Set (RFC 7517), caches it for the
``Cache-Control`` max-age, and verifies tokens locally: the key named by a
token's ``kid``, the signature, ``iss``, ``aud``, the times, and the ``2f.``
prefix against the ``tfa`` claim (``gatehouse_client.verify_access_token``
does all of it). The set lists every key that verifies, the signer's first,
so a key added before a rotation is published before it signs anything.

The body is a JWK Set (top-level ``keys``, what every JOSE library reads)
and the success envelope at once (``meta``, and the same keys in ``data``):
RFC 7517 tells readers to ignore members they do not know. An HS256 server
has no public key: it answers 10 with ``auth.jwks.not_published`` (in the
envelope), so a verifier fails at its first fetch with a reason, instead
of at every token with "no key matches".
"""
from __future__ import annotations

from flask import Blueprint, Response, current_app
from marshmallow import Schema, fields

from api.auth.tokens import key_ring
from api.errors.exceptions import NotSupportedError
from api.openapi import documented
from api.responses import json_response

bp = Blueprint("jwks", __name__)


class JwkSchema(Schema):
    kid = fields.String(required=True, metadata={
        "description": "Key id: the RFC 7638 SHA-256 thumbprint of the key; tokens name "
                       "their key in the JWT header's `kid`."})
    kty = fields.String(required=True, metadata={"enum": ["OKP", "RSA"]})
    alg = fields.String(required=True, metadata={"enum": ["EdDSA", "RS256"]})
    use = fields.String(required=True, metadata={"enum": ["sig"]})
    crv = fields.String(metadata={"enum": ["Ed25519", "Ed448"], "description": "OKP keys"})
    x = fields.String(metadata={"description": "OKP keys: the public key, base64url"})
    n = fields.String(metadata={"description": "RSA keys: the modulus, base64url"})
    e = fields.String(metadata={"description": "RSA keys: the exponent, base64url"})


class JwkSetSchema(Schema):
    keys = fields.List(fields.Nested(JwkSchema), required=True, metadata={
        "description": "Every public key that verifies access tokens, the signing key "
                       "first."})


_KEYS = {"type": "array", "items": {"$ref": "#/components/schemas/Jwk"},
         "description": "The JWK Set's keys (the same as `data.keys`), where JOSE "
                        "libraries read them."}
_CACHE_CONTROL = {"Cache-Control": {
    "required": True, "description": "`public, max-age=<JWKS_MAX_AGE>`",
    "schema": {"type": "string"}}}


@bp.get("/.well-known/jwks.json")
@documented(response=JwkSetSchema, top_level={"keys": _KEYS}, headers=_CACHE_CONTROL)
def jwks() -> Response:
    """The public keys that verify access tokens, as a JWK Set (10 under HS256)."""
    ring = key_ring()
    if not ring.jwks:
        raise NotSupportedError(reason="auth.jwks.not_published")
    keys = [dict(jwk) for jwk in ring.jwks]
    return json_response(
        {"keys": keys, "meta": {"code": 200, "message": "OK"}, "data": {"keys": keys}},
        headers={"Cache-Control": f"public, max-age={current_app.config['JWKS_MAX_AGE']}"})
