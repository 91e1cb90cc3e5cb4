"""Request and response bodies of /v1/users (marshmallow 4; unknown fields rejected)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.dumper import Dumper

# A list (not validate.And) so the OpenAPI document shows both rules. The
# pattern means the same in Python and in the document's ECMA-262 dialect:
# "(?!\n)" stops Python's "$" from accepting a trailing newline.
USERNAME = [
    validate.Length(min=3, max=32),
    validate.Regexp(r"^[A-Za-z0-9_.-]+$(?!\n)",
                    error="Use only letters, digits, '_', '.' and '-'."),
]
PASSWORD = validate.Length(min=8, max=128)
EMAIL = validate.Length(max=254)
DISPLAY_NAME = validate.Length(min=1, max=64)


class UTCDateTime(fields.DateTime):
    """Stored naive in UTC; written with its offset so clients need not guess."""

    def _serialize(self, value: datetime | None, attr: Any, obj: Any, **kwargs: Any):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return super()._serialize(value, attr, obj, **kwargs)


class PublicUserSchema(Schema):
    id = fields.Integer(required=True)
    username = fields.String(required=True)
    display_name = fields.String(allow_none=True, required=True)
    created_at = UTCDateTime(required=True)


class UserSchema(PublicUserSchema):
    """The account as its owner (or an admin) sees it."""

    email = fields.Email(required=True)
    is_admin = fields.Boolean(required=True)
    is_blocked = fields.Boolean(required=True)
    two_factor_enabled = fields.Boolean(required=True, attribute="totp_enabled")
    updated_at = UTCDateTime(required=True)


class UserUpdateSchema(Schema):
    email = fields.Email(validate=EMAIL)
    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)

    @validates_schema
    def _not_empty(self, data: dict, **_: object) -> None:
        if not data:
            raise ValidationError("Give at least one of: email, display_name.")


class PasswordSchema(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class NewPasswordSchema(Schema):
    password = fields.String(required=True, validate=PASSWORD)


class UserListQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(min=1, max=64))


class DeletedSchema(Schema):
    deleted = fields.Boolean(required=True)


# what the views dump with: the schemas' own output, for less (api/dumper.py)
public_user = Dumper(PublicUserSchema())
own_user = Dumper(UserSchema())
