"""Request and response bodies of /v1/auth (marshmallow 4; unknown fields rejected)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from api.users.schemas import EMAIL, PASSWORD, USERNAME


class RegisterSchema(Schema):
    username = fields.String(required=True, validate=USERNAME)
    email = fields.Email(required=True, validate=EMAIL)
    password = fields.String(required=True, validate=PASSWORD)


class LoginSchema(Schema):
    login = fields.String(required=True, validate=validate.Length(min=1, max=254),
                          metadata={"description": "username or email"})
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class RefreshSchema(Schema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=1, max=512))


class PasswordChangeSchema(Schema):
    current_password = fields.String(required=True,
                                     validate=validate.Length(min=1, max=128))
    new_password = fields.String(required=True, validate=PASSWORD)


class TokenPairSchema(Schema):
    access_token = fields.String(required=True)
    refresh_token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"example": "Bearer"})
    expires_in = fields.Integer(required=True, metadata={"description": "seconds"})


CODE = validate.Length(min=6, max=32)


class TwoFactorVerifySchema(Schema):
    challenge_token = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    code = fields.String(required=True, validate=CODE,
                         metadata={"description": "6-digit TOTP code or a recovery code"})


class TwoFactorEnableSchema(Schema):
    code = fields.String(required=True, validate=validate.Length(min=6, max=6))


class TwoFactorDisableSchema(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))
    code = fields.String(required=True, validate=CODE)


class TwoFactorSetupSchema(Schema):
    secret = fields.String(required=True)
    otpauth_uri = fields.String(required=True)


class ChallengeSchema(Schema):
    two_factor_required = fields.Boolean(required=True)
    challenge_token = fields.String(required=True)
    expires_in = fields.Integer(required=True)


class TokenPairWithCodesSchema(TokenPairSchema):
    recovery_codes = fields.List(fields.String(), required=True)


class LoggedOutSchema(Schema):
    logged_out = fields.Boolean(required=True)


class PasswordChangedSchema(Schema):
    password_changed = fields.Boolean(required=True)
    revoked_sessions = fields.Integer(required=True)
