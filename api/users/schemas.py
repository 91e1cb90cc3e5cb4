"""Request and response bodies of /v1/users (marshmallow 4; unknown fields rejected)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Mapping

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.auth.password_policy import AcceptablePassword
from api.mail.messages import LOCALES

# A list (not validate.And) so the OpenAPI document shows both rules. The
# pattern means the same in Python and in the document's ECMA-262 dialect:
# "(?!\n)" stops Python's "$" from accepting a trailing newline.
USERNAME = [
    validate.Length(min=3, max=32),
    validate.Regexp(r"^[A-Za-z0-9_.-]+$(?!\n)",
                    error="Use only letters, digits, '_', '.' and '-'."),
]
PASSWORD_LENGTH = validate.Length(min=8, max=128)
# every new password: its length, then not common nor breached (api/auth/password_policy.py)
PASSWORD = [PASSWORD_LENGTH, AcceptablePassword(PASSWORD_LENGTH)]


class LowerLength(validate.Validator):
    """The lower-case form fits too: the case-insensitive unique key stored
    beside the value (User.set_email) is as long as the column allows, and
    lower() lengthens some letters ("İ" becomes two characters)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit

    def __call__(self, value: str) -> str:
        if len(value.lower()) > self.limit:
            raise ValidationError(f"Longer than {self.limit} characters once lower-cased.")
        return value


EMAIL = [validate.Length(max=254), LowerLength(254)]
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


def _two_factor_on(user: Any) -> bool:
    """TOTP or a passkey (User.two_factor_on), of an entity or a row's mapping."""
    if isinstance(user, Mapping):
        return bool(user["totp_enabled"] or user.get("has_passkey"))
    return bool(user.totp_enabled or getattr(user, "has_passkey", False))


class UserSchema(PublicUserSchema):
    """The account as its owner (or an admin) sees it."""

    email = fields.Email(required=True)
    is_admin = fields.Boolean(required=True)
    is_blocked = fields.Boolean(required=True)
    two_factor_enabled = fields.Function(
        lambda user: _two_factor_on(user), required=True,
        metadata={"type": "boolean",
                  "description": "a second factor exists: TOTP, or a passkey (its tokens are "
                                 "`2f.` ones)"})
    email_verified = fields.Boolean(required=True)
    locale = fields.String(required=True, metadata={"description": "mail language: en or zh"})
    updated_at = UTCDateTime(required=True)


class UserUpdateSchema(Schema):
    email = fields.Email(validate=EMAIL)
    display_name = fields.String(validate=DISPLAY_NAME, allow_none=True)
    locale = fields.String(validate=validate.OneOf(LOCALES),
                           metadata={"description": "the language of mail to the account"})
    current_password = fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={"description": "required with `email` (the address is the key to "
                                 "password recovery); checked whenever given"})

    @validates_schema
    def _not_empty(self, data: dict, **_: object) -> None:
        if not data.keys() - {"current_password"}:
            raise ValidationError("Give at least one of: email, display_name, locale.")
        if "email" in data and "current_password" not in data:
            raise ValidationError("Missing data for required field.", "current_password")


class PasswordSchema(Schema):
    password = fields.String(required=True, validate=validate.Length(min=1, max=128))


class NewPasswordSchema(Schema):
    password = fields.String(required=True, validate=PASSWORD)


class UserListQuerySchema(Schema):
    limit = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
    cursor = fields.String(validate=validate.Length(min=1, max=64))


class DeletedSchema(Schema):
    deleted = fields.Boolean(required=True)


# what the views dump with, built once (building a schema copies every field)
public_user = PublicUserSchema()
own_user = UserSchema()
