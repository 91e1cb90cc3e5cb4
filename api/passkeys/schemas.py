"""Request and response bodies of the passkey endpoints (marshmallow 4;
unknown fields rejected). A browser's PublicKeyCredential, as JSON (its
toJSON(), or built by hand: base64url strings), travels as `credential`."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.auth.schemas import REAUTH_PASSWORD, TokenPairSchema
from api.passkeys.models import NAME_MAX
from api.users.schemas import UTCDateTime

CREDENTIAL_DESCRIPTION = (
    "the browser's PublicKeyCredential as JSON (PublicKeyCredential.toJSON(): id, rawId, "
    "type, response with base64url fields)")
NAME = validate.Length(min=1, max=NAME_MAX)


def _credential(required: bool = True) -> fields.Dict:
    return fields.Dict(keys=fields.String(), required=required,
                       metadata={"description": CREDENTIAL_DESCRIPTION})


class OptionsRequestSchema(Schema):
    password = REAUTH_PASSWORD


class PasskeyOptionsSchema(Schema):
    challenge_id = fields.String(required=True)
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})
    public_key = fields.Dict(required=True, metadata={
        "description": "PublicKeyCredentialCreationOptions or ...RequestOptions as JSON "
                       "(PublicKeyCredential.parseCreationOptionsFromJSON / "
                       "parseRequestOptionsFromJSON take it as it is)"})


class PasskeyRegisterSchema(Schema):
    credential = _credential()
    name = fields.String(validate=NAME, metadata={"description": "default: Passkey N"})


class PasskeySchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    created_at = UTCDateTime(required=True)
    last_used_at = UTCDateTime(allow_none=True)
    backed_up = fields.Boolean(required=True, metadata={
        "description": "a synced passkey (backed up by its provider)"})
    disabled = fields.Boolean(required=True, metadata={
        "description": "its signature counter went backwards (a copy exists): it signs "
                       "nothing in any more; remove it"})
    transports = fields.List(fields.String(), required=True, attribute="transport_list",
                             metadata={"description": "as the authenticator reported them"})


class PasskeyRegisteredSchema(Schema):
    passkey = fields.Nested(PasskeySchema, required=True)
    tokens = fields.Nested(TokenPairSchema, allow_none=True, metadata={
        "description": "the first passkey turns 2FA on: every session was revoked and "
                       "this is the new `2f.` pair; null otherwise"})


class PasskeyRenameSchema(Schema):
    name = fields.String(required=True, validate=NAME)


class PasskeyRemoveSchema(Schema):
    password = REAUTH_PASSWORD
    credential = _credential(required=False)


class PasskeyRemovedSchema(Schema):
    removed = fields.Boolean(required=True)
    tokens = fields.Nested(TokenPairSchema, allow_none=True, metadata={
        "description": "the last second factor was removed: 2FA is off, every session "
                       "was revoked and this is the new plain pair; null otherwise"})


class PasskeyLoginSchema(Schema):
    challenge_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    credential = _credential()


class SecondFactorOptionsSchema(Schema):
    challenge_token = fields.String(required=True, validate=validate.Length(min=1, max=2048))
