"""/v1/auth/passkeys: register, list, rename, remove; sign in with a passkey;
and /v1/auth/2fa/passkey/options, a passkey answering a 2FA login (the
answer goes to POST /v1/auth/2fa/verify as `credential`)."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from api.auth import twofactor
from api.auth.decorators import auth_required, current_caller, current_session, current_user
from api.auth.limits import limited, login_limits, verify_limits
from api.auth.schemas import TokenPairSchema
from api.body import input_body
from api.db import writes
from api.errors.exceptions import InvalidParameterError
from api.openapi import documented
from api.passkeys import service
from api.passkeys.schemas import (
    OptionsRequestSchema, PasskeyLoginSchema, PasskeyOptionsSchema, PasskeyRegisteredSchema,
    PasskeyRegisterSchema, PasskeyRemovedSchema, PasskeyRemoveSchema, PasskeyRenameSchema,
    PasskeySchema, SecondFactorOptionsSchema)
from api.responses import ok
from api.users.service import parse_id

bp = Blueprint("passkeys", __name__, url_prefix="/v1/auth")
passkey_out = PasskeySchema()
passkey_list = PasskeySchema(many=True)
registered_out = PasskeyRegisteredSchema()
removed_out = PasskeyRemovedSchema()
ID_PARAM = {"passkey_id": "a passkey's id (GET /v1/auth/passkeys)"}


def _id(text: str) -> int:
    parsed = parse_id(text)
    if parsed is None:
        raise InvalidParameterError("id must be a non-negative integer.",
                                    fields={"passkey_id": ["id must be a non-negative integer."]})
    return parsed


@bp.post("/passkeys/register/options")
@documented(response=PasskeyOptionsSchema, errors=(22, 88, 429))
@auth_required
@writes
@input_body(OptionsRequestSchema)
def register_options(body: dict[str, Any]) -> Response:
    """Options for navigator.credentials.create(): a discoverable passkey for
    this account. Needs the current password, unless this session proved a
    password or second factor in the last 5 minutes."""
    return ok(service.registration_options(current_user(), current_session(),
                                           body.get("password")))


@bp.post("/passkeys/register")
@documented(response=PasskeyRegisteredSchema, errors=(88,))
@auth_required
@writes
@input_body(PasskeyRegisterSchema)
def register(body: dict[str, Any]) -> Response:
    """Store the passkey the browser created; the first one turns 2FA on
    (every session revoked, a fresh `2f.` pair in `tokens`)."""
    return ok(registered_out.dump(service.register(current_user(), body["credential"],
                                                   body.get("name"))))


@bp.get("/passkeys")
@documented(response=PasskeySchema, many=True)
@auth_required
def list_passkeys() -> Response:
    """Your passkeys."""
    return ok(passkey_list.dump(service.list_passkeys(current_caller().id)))


@bp.patch("/passkeys/<passkey_id>")
@documented(response=PasskeySchema, errors=(10,), path_params=ID_PARAM)
@auth_required
@writes
@input_body(PasskeyRenameSchema)
def rename(passkey_id: str, body: dict[str, Any]) -> Response:
    """Rename one of your passkeys."""
    return ok(passkey_out.dump(service.rename(current_caller().id, _id(passkey_id),
                                              body["name"])))


@bp.delete("/passkeys/<passkey_id>")
@documented(response=PasskeyRemovedSchema, errors=(10, 22, 429), path_params=ID_PARAM)
@auth_required
@writes
@input_body(PasskeyRemoveSchema)
def remove(passkey_id: str, body: dict[str, Any]) -> Response:
    """Remove one of your passkeys (the password, unless this session proved
    one in the last 5 minutes). The last second factor needs the password and
    a passkey answer (`credential`, for POST /v1/auth/passkeys/confirm/options),
    as disabling 2FA does: 2FA turns off, a fresh plain pair in `tokens`."""
    return ok(removed_out.dump(service.remove(current_user(), current_session(),
                                              _id(passkey_id), body.get("password"),
                                              body.get("credential"))))


@bp.post("/passkeys/confirm/options")
@documented(response=PasskeyOptionsSchema, errors=(88,))
@auth_required
@writes
def confirm_options() -> Response:
    """Options for navigator.credentials.get() with your passkeys: the proof
    of the factor that removing the last one needs."""
    return ok(service.assertion_options(current_user(), service.CONFIRM))


@bp.post("/passkeys/login/options")
@documented(response=PasskeyOptionsSchema)
@limited(login_limits)
@writes
def login_options() -> Response:
    """Options for navigator.credentials.get() to sign in with a passkey
    alone: no credentials listed (the browser offers this site's passkeys),
    user verification required."""
    return ok(service.sign_in_options())


@bp.post("/passkeys/login")
@documented(response=TokenPairSchema, errors=(88, 99))
@limited(login_limits)
@writes
@input_body(PasskeyLoginSchema)
def login(body: dict[str, Any]) -> Response:
    """Sign in with a passkey alone: always a `2f.` token pair (an account
    with a passkey has 2FA on)."""
    return ok(service.sign_in(body["challenge_id"], body["credential"]))


@bp.post("/2fa/passkey/options")
@documented(response=PasskeyOptionsSchema, errors=(88, 99))
@limited(verify_limits)
@writes
@input_body(SecondFactorOptionsSchema)
def second_factor_options(body: dict[str, Any]) -> Response:
    """Options for navigator.credentials.get() with the account's passkeys, to
    answer a 2FA login challenge (send the answer to POST /v1/auth/2fa/verify
    as `credential`)."""
    user = twofactor.challenge_user(body["challenge_token"])
    return ok(service.assertion_options(user, service.SECOND_FACTOR))
