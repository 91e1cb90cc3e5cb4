"""Request and response bodies of /v1/auth (marshmallow 4; unknown fields rejected)."""
from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from api.users.schemas import EMAIL, PASSWORD, USERNAME, UTCDateTime


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


# ASCII only (Python's [0-9] is; str.isdigit would take other scripts' digits);
# "(?!\n)" stops "$" from taking a trailing newline, as in USERNAME
CODE = [
    validate.Length(min=6, max=32),
    validate.Regexp(r"^[A-Za-z0-9 -]+$(?!\n)",
                    error="Use the 6-digit code (0-9) or a recovery code."),
]
TOTP_CODE = validate.Regexp(r"^[0-9]{6}$(?!\n)", error="Use the 6-digit code (0-9).")


class TwoFactorVerifySchema(Schema):
    challenge_token = fields.String(required=True, validate=validate.Length(min=1, max=2048))
    code = fields.String(validate=CODE,
                         metadata={"description": "6-digit TOTP code or a recovery code "
                                                  "(or `credential`)"})
    credential = fields.Dict(keys=fields.String(), metadata={
        "description": "a passkey's answer to POST /v1/auth/2fa/passkey/options: the "
                       "browser's PublicKeyCredential as JSON (or `code`)"})

    @validates_schema
    def _one_answer(self, data: dict, **_: object) -> None:
        if ("code" in data) == ("credential" in data):
            raise ValidationError("Give either code or credential.", "code")


REAUTH_PASSWORD = fields.String(
    validate=validate.Length(min=1, max=128),
    metadata={"description": "the current password; needed unless this session proved "
                             "a password or second factor in the last 5 minutes "
                             "(else 99 auth.reauth.required)"})


class TwoFactorSetupRequestSchema(Schema):
    body_optional = True  # OpenAPI: the request may have no body
    password = REAUTH_PASSWORD


class TwoFactorEnableSchema(Schema):
    code = fields.String(required=True, validate=TOTP_CODE)
    password = REAUTH_PASSWORD


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


class LogoutSchema(Schema):
    """Optional: a logout with no body ends the current session, as it always did."""

    scope = fields.String(load_default="current",
                          validate=validate.OneOf(("current", "others", "all")),
                          metadata={"description": "current: this session; others: every "
                                                   "other one of yours; all: every one"})


class LoggedOutSchema(Schema):
    logged_out = fields.Boolean(required=True)
    revoked_sessions = fields.Integer(required=True,
                                      metadata={"description": "live sessions it ended"})


class AgentSchema(Schema):
    """The user agent as parsed (ua-parser); null where it names nothing known."""

    browser = fields.String(allow_none=True, required=True, metadata={"example": "Firefox"})
    browser_version = fields.String(allow_none=True, required=True)
    os = fields.String(allow_none=True, required=True, metadata={"example": "Ubuntu"})
    os_version = fields.String(allow_none=True, required=True)
    device = fields.String(allow_none=True, required=True)


class SessionSchema(Schema):
    """One live sign-in of yours."""

    id = fields.String(required=True)
    current = fields.Boolean(required=True,
                             metadata={"description": "the session of this request's token"})
    created_at = UTCDateTime(required=True)
    last_used_at = UTCDateTime(required=True,
                               metadata={"description": "its sign-in or last token refresh"})
    expires_at = UTCDateTime(required=True)
    client_address = fields.String(allow_none=True, required=True)
    user_agent = fields.String(allow_none=True, required=True)
    agent = fields.Nested(AgentSchema, required=True)
    two_factor = fields.Boolean(required=True)


class SessionRevokedSchema(Schema):
    revoked = fields.Boolean(required=True)


class PasswordChangedSchema(Schema):
    password_changed = fields.Boolean(required=True)
    revoked_sessions = fields.Integer(required=True)
