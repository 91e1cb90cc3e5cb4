"""A software WebAuthn authenticator (a platform one: ES256 keys, attestation
"none", discoverable credentials), built from `cryptography` and `cbor2`.

It plays the browser's part too: it writes the client data (type, challenge,
origin) a browser would, so a test can answer from another origin, replay an
answer, or copy the authenticator (a clone keeps signing with the same key
and an old counter). It answers the API's options JSON with the JSON the
API takes (PublicKeyCredential.toJSON()'s shape).
"""
from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "http://localhost:8000"
RP_ID = "localhost"
UP, UV, AT = 0x01, 0x04, 0x40


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class Credential:
    id: bytes
    key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0


class SoftAuthenticator:
    def __init__(self, origin: str = ORIGIN, *, verifies_user: bool = True,
                 counts: bool = True) -> None:
        self.origin = origin
        self.verifies_user = verifies_user
        self.counts = counts  # False: an authenticator that keeps no counter (always 0)
        self.credentials: dict[bytes, Credential] = {}

    def clone(self) -> "SoftAuthenticator":
        """A copy holding the same keys and counters (what a key extracted from
        a device gives an attacker)."""
        twin = SoftAuthenticator(self.origin, verifies_user=self.verifies_user,
                                 counts=self.counts)
        twin.credentials = {k: Credential(c.id, c.key, c.rp_id, c.user_handle, c.sign_count)
                            for k, c in self.credentials.items()}
        return twin

    def _flags(self, attested: bool = False) -> int:
        return UP | (UV if self.verifies_user else 0) | (AT if attested else 0)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge,
                           "origin": origin or self.origin, "crossOrigin": False}).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """navigator.credentials.create() for the API's creation options."""
        rp_id = options["rp"].get("id", RP_ID)
        excluded = {unb64(c["id"]) for c in options.get("excludeCredentials", [])}
        assert not excluded & set(self.credentials), "InvalidStateError: already registered"
        assert any(p["alg"] == -7 for p in options["pubKeyCredParams"])
        key = ec.generate_private_key(ec.SECP256R1())
        credential = Credential(os.urandom(16), key, rp_id, unb64(options["user"]["id"]))
        self.credentials[credential.id] = credential
        numbers = key.public_key().public_numbers()
        cose = cbor2.dumps({1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"),
                            -3: numbers.y.to_bytes(32, "big")})
        attested = bytes(16) + struct.pack(">H", len(credential.id)) + credential.id + cose
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags(True)])
                     + struct.pack(">I", credential.sign_count) + attested)
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {"id": b64(credential.id), "rawId": b64(credential.id), "type": "public-key",
                "authenticatorAttachment": "platform", "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(client_data),
                             "attestationObject": b64(attestation),
                             "transports": ["internal"]}}

    def get(self, options: dict[str, Any], *, origin: str | None = None,
            credential_id: bytes | None = None) -> dict[str, Any]:
        """navigator.credentials.get() for the API's request options: a listed
        credential, or (none listed) one of this site's discoverable ones."""
        rp_id = options.get("rpId", RP_ID)
        allowed = [unb64(c["id"]) for c in options.get("allowCredentials", [])]
        candidates = [c for c in self.credentials.values()
                      if c.rp_id == rp_id and (not allowed or c.id in allowed)]
        if credential_id is not None:
            candidates = [c for c in candidates if c.id == credential_id]
        assert candidates, "NotAllowedError: no credential for this request"
        credential = candidates[0]
        if self.counts:
            credential.sign_count += 1
        auth_data = (hashlib.sha256(rp_id.encode()).digest() + bytes([self._flags()])
                     + struct.pack(">I", credential.sign_count))
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = credential.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                        ec.ECDSA(hashes.SHA256()))
        return {"id": b64(credential.id), "rawId": b64(credential.id), "type": "public-key",
                "authenticatorAttachment": "platform", "clientExtensionResults": {},
                "response": {"clientDataJSON": b64(client_data),
                             "authenticatorData": b64(auth_data),
                             "signature": b64(signature),
                             "userHandle": b64(credential.user_handle)}}


def copy_of(answer: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(answer)
