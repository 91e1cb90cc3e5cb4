"""Bodies of the account-lifecycle endpoints (marshmallow 4; unknown fields rejected)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.users.schemas import EMAIL, PASSWORD

# a mailed token is 43 URL-safe characters; a little room, no more
TOKEN = fields.String(required=True, validate=validate.Length(min=1, max=128),
                      metadata={"description": "the `token` parameter of the mailed link"})


class EmailSchema(Schema):
    email = fields.Email(required=True, validate=EMAIL)


class VerifyEmailSchema(Schema):
    """The link's token, or the address and the code from the mail."""

    token = fields.String(validate=validate.Length(min=1, max=128),
                          metadata={"description": "the `token` parameter of the mailed link"})
    email = fields.Email(validate=EMAIL, metadata={"description": "with `code`"})
    code = fields.String(validate=validate.Regexp(
        r"^[0-9]{6}$(?!\n)", error="Use the 6-digit code (0-9) from the mail."),
        metadata={"description": "the 6-digit code from the mail, with `email`"})

    @validates_schema
    def _one_way(self, data: dict, **_: object) -> None:
        if ("token" in data) == ("email" in data or "code" in data) \
                or ("token" not in data and not {"email", "code"} <= data.keys()):
            raise ValidationError("Give either token, or email and code.", "token")


class TokenSchema(Schema):
    token = TOKEN


class ResetPasswordSchema(Schema):
    token = TOKEN
    new_password = fields.String(required=True, validate=PASSWORD)


class AcceptedSchema(Schema):
    accepted = fields.Boolean(required=True, metadata={
        "description": "always true: whether a mail is sent depends on the account, "
                       "which this answer does not tell"})


class EmailVerifiedSchema(Schema):
    email_verified = fields.Boolean(required=True)


class PasswordResetSchema(Schema):
    password_reset = fields.Boolean(required=True)
    revoked_sessions = fields.Integer(required=True)


class EmailChangedSchema(Schema):
    email_changed = fields.Boolean(required=True)
    email = fields.Email(required=True)
