"""Passkeys: registration, sign-in alone, the second factor of a 2FA login,
and their list, rename and removal (SPEC §14). WebAuthn itself is Duo's
`webauthn` package; this module keeps the state around it.

What "2FA on" means: an account has 2FA when it has a second factor, TOTP
or a passkey (`User.two_factor_on`). A passkey signs in with user
verification (a PIN or biometric on the device: something held plus
something known or been), so a passkey sign-in is a two-factor sign-in and
every session it opens is a `2f.` one; a password login of an account with
a passkey asks for the second factor, which a passkey (or a TOTP code, when
TOTP is on too) answers. Adding the first passkey turns 2FA on (every
session revoked, a fresh `2f.` pair returned, as enabling TOTP does);
removing the last second factor turns it off and follows the rules of
disabling 2FA: the password and a proof of the factor (a passkey
assertion), every session revoked, a fresh plain pair.

Challenges live in the database (any worker or host can finish what another
began), are single-use (compare-and-set on used_at), and expire after
CHALLENGE_TTL. A challenge is spent before its answer is checked, and a
failed answer keeps it spent (committed with the failure). The signature
counter only ever goes up (compare-and-set); an authenticator reporting a
counter that did not (a non-zero one) has been cloned: the passkey is
disabled, the attempt refused and recorded, and its owner removes it.

Each public function commits once or raises an AppError.
"""
from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from webauthn import (
    generate_authentication_options, generate_registration_options, options_to_json,
    verify_authentication_response, verify_registration_response)
from webauthn.helpers import base64url_to_bytes, parse_client_data_json
from webauthn.helpers.cose import COSEAlgorithmIdentifier
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AttestationConveyancePreference, AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor, ResidentKeyRequirement, UserVerificationRequirement)

from api.auth import attempts
from api.auth.reauth import require_recent_proof
from api.auth.sessions import open_session
from api.auth.tokens import SessionRef
from api.errors.exceptions import AuthRequiredError, InvalidParameterError, NotSupportedError
from api.events import kinds
from api.events.service import record_event, record_failure
from api.extensions import db
from api.passkeys.models import Passkey, PasskeyChallenge
from api.users.models import User, utcnow
from api.users.service import check_password, revoke_sessions

CHALLENGE_TTL = 5 * 60
MAX_PASSKEYS = 20
REGISTER, SIGN_IN, SECOND_FACTOR, CONFIRM = "register", "sign_in", "second_factor", "confirm"
ALGORITHMS = [COSEAlgorithmIdentifier.ECDSA_SHA_256, COSEAlgorithmIdentifier.EDDSA,
              COSEAlgorithmIdentifier.RSASSA_PKCS1_v1_5_SHA_256]


def user_handle(user_id: int) -> bytes:
    """The WebAuthn user handle of an account: stable (an authenticator keeps
    one passkey per account and site), and no name or address in it."""
    return hashlib.sha256(b"gatehouse-webauthn-user:%d" % user_id).digest()[:16]


# --- options -------------------------------------------------------------------

def registration_options(user: User, session: SessionRef,
                         password: str | None = None) -> dict[str, Any]:
    """Creation options for a new passkey of `user`: a resident key
    (discoverable: it signs in with no name typed), user verification
    preferred (required only when signing in with it alone). Needs the
    password or a recent proof (SPEC §10)."""
    user = require_recent_proof(user, session, password)
    existing = _credentials(user.id)
    if len(existing) >= MAX_PASSKEYS:
        raise InvalidParameterError(reason="auth.passkey.too_many")
    challenge = _new_challenge(REGISTER, user.id)
    options = generate_registration_options(
        rp_id=current_app.config["WEBAUTHN_RP_ID"],
        rp_name=current_app.config["WEBAUTHN_RP_NAME"],
        user_id=user_handle(user.id), user_name=user.username,
        user_display_name=user.display_name or user.username,
        challenge=challenge.challenge, timeout=CHALLENGE_TTL * 1000,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED, require_resident_key=True,
            user_verification=UserVerificationRequirement.PREFERRED),
        exclude_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
        supported_pub_key_algs=ALGORITHMS)
    db.session.commit()
    return _answer(challenge, options)


def sign_in_options() -> dict[str, Any]:
    """Request options for a passwordless sign-in: no credentials listed (the
    browser offers the site's discoverable passkeys), user verification
    required."""
    challenge = _new_challenge(SIGN_IN, None)
    options = generate_authentication_options(
        rp_id=current_app.config["WEBAUTHN_RP_ID"], challenge=challenge.challenge,
        timeout=CHALLENGE_TTL * 1000, allow_credentials=[],
        user_verification=UserVerificationRequirement.REQUIRED)
    db.session.commit()
    return _answer(challenge, options)


def assertion_options(user: User, purpose: str) -> dict[str, Any]:
    """Request options for `user`'s own passkeys: the second factor of a
    login, or the confirmation of a removal (caller checked who it is)."""
    existing = _credentials(user.id, usable=True)
    if not existing:
        raise InvalidParameterError(reason="auth.passkey.none_registered")
    challenge = _new_challenge(purpose, user.id)
    options = generate_authentication_options(
        rp_id=current_app.config["WEBAUTHN_RP_ID"], challenge=challenge.challenge,
        timeout=CHALLENGE_TTL * 1000,
        allow_credentials=[PublicKeyCredentialDescriptor(id=c) for c in existing],
        user_verification=UserVerificationRequirement.PREFERRED)
    db.session.commit()
    return _answer(challenge, options)


def _answer(challenge: PasskeyChallenge, options: Any) -> dict[str, Any]:
    return {"challenge_id": challenge.id, "expires_in": CHALLENGE_TTL,
            "public_key": json.loads(options_to_json(options))}


def _new_challenge(purpose: str, user_id: int | None) -> PasskeyChallenge:
    now = utcnow()
    challenge = PasskeyChallenge(id=uuid.uuid4().hex, user_id=user_id, purpose=purpose,
                                 challenge=secrets.token_bytes(32), created_at=now,
                                 expires_at=now + timedelta(seconds=CHALLENGE_TTL))
    db.session.add(challenge)
    return challenge


def _credentials(user_id: int, usable: bool = False) -> list[bytes]:
    query = select(Passkey.credential_id).where(Passkey.user_id == user_id)
    if usable:
        query = query.where(Passkey.disabled_at.is_(None))
    return list(db.session.scalars(query.order_by(Passkey.id)))


# --- registration --------------------------------------------------------------

def register(user: User, credential: dict[str, Any], name: str | None) -> dict[str, Any]:
    """Store the passkey the browser created for the registration challenge.
    The first one turns 2FA on: every session revoked, a fresh `2f.` pair."""
    expected = _take_challenge(credential, REGISTER, user.id)
    config = current_app.config
    try:
        verified = verify_registration_response(
            credential=credential, expected_challenge=expected,
            expected_rp_id=config["WEBAUTHN_RP_ID"], expected_origin=config["WEBAUTHN_ORIGINS"],
            require_user_verification=False, supported_pub_key_algs=ALGORITHMS)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        db.session.commit()  # the challenge stays spent
        raise _invalid() from None
    _lock_account(user.id)
    db.session.refresh(user)
    was_on = user.two_factor_on
    if db.session.scalar(select(Passkey.id).where(
            Passkey.credential_id == verified.credential_id)) is not None:
        db.session.commit()
        raise InvalidParameterError(reason="auth.passkey.already_registered")
    count = db.session.scalar(select(func.count()).select_from(Passkey)
                              .where(Passkey.user_id == user.id))
    if count >= MAX_PASSKEYS:
        db.session.commit()
        raise InvalidParameterError(reason="auth.passkey.too_many")
    transports = (credential.get("response") or {}).get("transports")
    passkey = Passkey(
        user_id=user.id, credential_id=verified.credential_id,
        public_key=verified.credential_public_key, sign_count=verified.sign_count,
        name=name or f"Passkey {count + 1}", aaguid=verified.aaguid,
        transports=_transports(transports), backed_up=_backed_up(verified),
        user_verified=verified.user_verified, created_at=utcnow())
    db.session.add(passkey)
    user.has_passkey = True
    db.session.flush()
    record_event(kinds.PASSKEY_ADDED, user.id, details={"passkey": passkey.id})
    tokens = None
    if not was_on:  # the first second factor: as enabling 2FA
        revoke_sessions(user.id, reason="2fa_enabled")
        tokens = open_session(user, two_factor=True)
        record_event(kinds.TWO_FACTOR_ENABLED, user.id, details={"by": "passkey"})
    db.session.commit()
    return {"passkey": passkey, "tokens": tokens}


def _transports(value: Any) -> str | None:
    if not isinstance(value, list):
        return None
    kept = [t for t in value if isinstance(t, str) and t.isascii() and t.isalnum()
            or t in ("smart-card", "cable")]
    text = ",".join(dict.fromkeys(kept))
    return text[:128] or None


def _backed_up(verified: Any) -> bool:
    return bool(getattr(verified, "credential_backed_up", False))


# --- sign-in ---------------------------------------------------------------------

def sign_in(challenge_id: str, credential: dict[str, Any]) -> dict[str, Any]:
    """A passwordless sign-in: the passkey names its account (a discoverable
    credential); user verification required. Always a `2f.` session: the
    account has a passkey, so 2FA is on."""
    expected = _take_challenge(credential, SIGN_IN, None, challenge_id)
    passkey = _passkey_of(credential)
    if passkey is None:
        attempts.check()
        attempts.failed()  # the address's count: probing for credentials
        db.session.commit()
        raise AuthRequiredError(reason="auth.passkey.unknown_credential")
    user = db.session.get(User, passkey.user_id)
    if user is None:  # deleted meanwhile
        db.session.commit()
        raise AuthRequiredError(reason="auth.passkey.unknown_credential")
    if user.is_blocked:
        db.session.commit()
        record_failure(kinds.SIGN_IN_FAILED, user.id, details={"reason": "blocked"})
        raise AuthRequiredError(reason="auth.account.blocked")
    if current_app.config["REQUIRE_VERIFIED_EMAIL"] and not user.email_verified:
        db.session.commit()
        record_failure(kinds.SIGN_IN_FAILED, user.id, details={"reason": "email_unverified"})
        raise AuthRequiredError(reason="auth.email.unverified")
    attempts.check(user.id)
    try:
        use_passkey(user, passkey, credential, expected, require_uv=True)
    except InvalidParameterError:
        record_event(kinds.SIGN_IN_FAILED, user.id, details={"reason": "passkey"})
        db.session.commit()  # the challenge stays spent, the failure recorded
        raise
    tokens = open_session(user, two_factor=user.two_factor_on, sign_in="passkey")
    db.session.commit()
    attempts.passed(user.id)
    return tokens


def second_factor(user: User, credential: dict[str, Any]) -> None:
    """Check a passkey answering the second-factor challenge of `user`'s
    login (api/auth/twofactor.py verify; caller ran attempts.check, commits,
    and records a failure: an InvalidParameterError leaves the challenge
    spent for that commit)."""
    expected = _take_challenge(credential, SECOND_FACTOR, user.id)
    passkey = _passkey_of(credential)
    if passkey is None or passkey.user_id != user.id:
        attempts.failed(user.id)
        raise InvalidParameterError(reason="auth.passkey.invalid",
                                    fields={"credential": ["Not a passkey of this account."]})
    use_passkey(user, passkey, credential, expected, require_uv=False)


def use_passkey(user: User, passkey: Passkey, credential: dict[str, Any], expected: bytes,
                *, require_uv: bool) -> None:
    """Verify an assertion by `passkey` over `expected` and advance its
    counter; 88 (counted as a failure for the account) if it does not
    verify, 99 auth.passkey.cloned (committed: the passkey disabled, the
    event recorded) if the counter went backwards."""
    if passkey.disabled_at is not None:
        raise AuthRequiredError(reason="auth.passkey.cloned")
    config = current_app.config
    try:
        # the counter is checked below, by a compare-and-set (0: the
        # library's own check off, it would read a stale value)
        verified = verify_authentication_response(
            credential=credential, expected_challenge=expected,
            expected_rp_id=config["WEBAUTHN_RP_ID"], expected_origin=config["WEBAUTHN_ORIGINS"],
            credential_public_key=passkey.public_key, credential_current_sign_count=0,
            require_user_verification=False)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        attempts.failed(user.id)
        raise _invalid() from None
    handle = _user_handle_of(credential)
    if handle is not None and handle != user_handle(user.id):
        attempts.failed(user.id)
        raise _invalid()
    if require_uv and not verified.user_verified:
        raise InvalidParameterError(reason="auth.passkey.user_verification_required")
    count = verified.new_sign_count
    advanced = db.session.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id, Passkey.disabled_at.is_(None),
               or_(Passkey.sign_count < count, (Passkey.sign_count == 0) & (count == 0)))
        .values(sign_count=count, last_used_at=utcnow(), backed_up=_backed_up(verified))
        .execution_options(synchronize_session=False)).rowcount
    if advanced != 1:
        _disable_cloned(user.id, passkey.id)


def _disable_cloned(user_id: int, passkey_id: int) -> None:
    """Disable the passkey and commit it with the event (and what the request
    spent: the challenge, an attempt), then refuse."""
    db.session.execute(update(Passkey).where(Passkey.id == passkey_id,
                                             Passkey.disabled_at.is_(None))
                       .values(disabled_at=utcnow())
                       .execution_options(synchronize_session=False))
    record_event(kinds.SECOND_FACTOR_FAILED, user_id,
                 details={"reason": "passkey_cloned", "passkey": passkey_id})
    db.session.commit()
    raise AuthRequiredError(reason="auth.passkey.cloned")


# --- list, rename, remove --------------------------------------------------------

def list_passkeys(user_id: int) -> list[Passkey]:
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user_id)
                                   .order_by(Passkey.id)))


def rename(user_id: int, passkey_id: int, name: str) -> Passkey:
    passkey = _own(user_id, passkey_id)
    passkey.name = name
    db.session.commit()
    return passkey


def remove(user: User, session: SessionRef, passkey_id: int, password: str | None,
           credential: dict[str, Any] | None) -> dict[str, Any]:
    """Remove a passkey. Needs re-authentication (the password or a recent
    proof); removing the account's last second factor needs what disabling
    2FA does, the password and the factor (an assertion by one of its
    passkeys, answering a confirm challenge), and turns 2FA off: every
    session revoked, a fresh plain pair."""
    _own(user.id, passkey_id)
    # the password (argon2) first, before anything is written or locked
    if _last_factor(user, passkey_id):
        _require_last_factor_fields(password, credential)
        user = check_password(user.id, user.password_hash, password)  # type: ignore[arg-type]
    else:
        user = require_recent_proof(user, session, password)
    _lock_account(user.id)
    db.session.refresh(user)
    last = _last_factor(user, passkey_id)  # again, under the account's lock
    if last:
        _require_last_factor_fields(password, credential)
        attempts.check(user.id)
        expected = _take_challenge(credential, CONFIRM, user.id)  # type: ignore[arg-type]
        used = _passkey_of(credential)  # type: ignore[arg-type]
        try:
            if used is None or used.user_id != user.id:
                attempts.failed(user.id)
                raise _invalid()
            use_passkey(user, used, credential, expected, require_uv=False)  # type: ignore
        except InvalidParameterError:
            record_event(kinds.SECOND_FACTOR_FAILED, user.id,
                         details={"during": "passkey_remove"})
            db.session.commit()  # the challenge stays spent, the failure recorded
            raise
    gone = db.session.execute(delete(Passkey).where(Passkey.id == passkey_id,
                                                    Passkey.user_id == user.id)).rowcount
    if gone != 1:
        raise NotSupportedError(reason="auth.passkey.not_found")
    record_event(kinds.PASSKEY_REMOVED, user.id, details={"passkey": passkey_id})
    tokens = None
    user.has_passkey = db.session.scalar(
        select(Passkey.id).where(Passkey.user_id == user.id).limit(1)) is not None
    if last:
        revoke_sessions(user.id, reason="2fa_disabled")
        tokens = open_session(user, two_factor=False)
        record_event(kinds.TWO_FACTOR_DISABLED, user.id, details={"by": "passkey_removed"})
    db.session.commit()
    return {"removed": True, "tokens": tokens}


def _last_factor(user: User, passkey_id: int) -> bool:
    """Whether removing this passkey leaves the account with no second factor."""
    return not user.totp_enabled and not db.session.scalar(
        select(func.count()).select_from(Passkey)
        .where(Passkey.user_id == user.id, Passkey.id != passkey_id))


def _require_last_factor_fields(password: str | None,
                                credential: dict[str, Any] | None) -> None:
    missing = {name: ["Needed to remove the last second factor."]
               for name, value in (("password", password), ("credential", credential))
               if value is None}
    if missing:
        raise InvalidParameterError(reason="auth.passkey.last_factor", fields=missing)


def remove_all(user: User) -> int:
    """Forget every passkey of `user` (the admin's 2FA override; caller commits)."""
    removed = db.session.execute(delete(Passkey).where(Passkey.user_id == user.id)).rowcount
    user.has_passkey = False
    return removed or 0


def _own(user_id: int, passkey_id: int) -> Passkey:
    passkey = db.session.get(Passkey, passkey_id)
    if passkey is None or passkey.user_id != user_id:
        raise NotSupportedError(reason="auth.passkey.not_found")
    return passkey


def _lock_account(user_id: int) -> None:
    """Take the account's row lock (PostgreSQL; SQLite's write lock is
    already held): passkey changes of one account run one at a time, so
    "the last second factor" is decided on what is there."""
    db.session.execute(update(User).where(User.id == user_id)
                       .values(updated_at=User.updated_at)
                       .execution_options(synchronize_session=False))


# --- the answer's parts ------------------------------------------------------------

def _take_challenge(credential: dict[str, Any], purpose: str, user_id: int | None,
                    challenge_id: str | None = None) -> bytes:
    """Spend the challenge the credential answers (named by its client data,
    and by `challenge_id` when given): its bytes, or 88 when it is unknown,
    for another purpose or account, expired, or used."""
    answered = _client_challenge(credential)
    if challenge_id is not None:
        row = db.session.get(PasskeyChallenge, challenge_id)
        if row is not None and row.challenge != answered:
            raise _invalid()
    else:
        row = db.session.scalar(select(PasskeyChallenge)
                                .where(PasskeyChallenge.challenge == answered))
    if row is None or row.purpose != purpose or row.user_id != user_id:
        raise InvalidParameterError(reason="auth.passkey.challenge_expired")
    now = utcnow()
    spent = db.session.execute(
        update(PasskeyChallenge)
        .where(PasskeyChallenge.id == row.id, PasskeyChallenge.used_at.is_(None),
               PasskeyChallenge.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    if spent != 1:
        db.session.rollback()
        used = db.session.scalar(select(PasskeyChallenge.used_at)
                                 .where(PasskeyChallenge.id == row.id))
        raise InvalidParameterError(reason="auth.passkey.challenge_used" if used is not None
                                    else "auth.passkey.challenge_expired")
    return row.challenge


def _response(credential: dict[str, Any]) -> dict[str, Any]:
    response = credential.get("response")
    if not isinstance(response, dict):
        raise _invalid()
    return response


def _client_challenge(credential: dict[str, Any]) -> bytes:
    try:
        data = parse_client_data_json(base64url_to_bytes(_response(credential)["clientDataJSON"]))
        return base64url_to_bytes(data.challenge) if isinstance(data.challenge, str) \
            else bytes(data.challenge)
    except (WebAuthnException, ValueError, TypeError, KeyError, AttributeError):
        raise _invalid() from None


def _passkey_of(credential: dict[str, Any]) -> Passkey | None:
    raw = credential.get("rawId", credential.get("id"))
    try:
        credential_id = base64url_to_bytes(raw)
    except (ValueError, TypeError, AttributeError):
        raise _invalid() from None
    return db.session.scalar(select(Passkey).where(Passkey.credential_id == credential_id))


def _user_handle_of(credential: dict[str, Any]) -> bytes | None:
    handle = _response(credential).get("userHandle")
    if not handle:
        return None
    try:
        return base64url_to_bytes(handle)
    except (ValueError, TypeError, AttributeError):
        raise _invalid() from None


def _invalid() -> InvalidParameterError:
    return InvalidParameterError(reason="auth.passkey.invalid",
                                 fields={"credential": ["The passkey's answer does not verify."]})
