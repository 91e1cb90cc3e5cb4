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
