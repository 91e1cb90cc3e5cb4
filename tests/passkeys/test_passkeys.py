"""Passkeys through the HTTP surface, answered by a software authenticator
(tests/passkeys/authenticator.py): register, sign in alone, answer a 2FA
login, and the refusals (wrong origin, replayed challenge, cloned counter,
deleted credential, no user verification, expired challenge)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pyotp
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from api.extensions import db
from api.maintenance import prune
from api.passkeys.models import Passkey, PasskeyChallenge
from api.users.models import utcnow
from tests.helpers import (
    PASSWORD, Account, Clock, assert_error, assert_ok, bearer, make_account)
from tests.passkeys.authenticator import SoftAuthenticator

TFA = "2f."


def register_options(client: FlaskClient, token: str, **body: Any) -> dict[str, Any]:
    return assert_ok(client.post("/v1/auth/passkeys/register/options",
                                 headers=bearer(token), json=body))


def add_passkey(client: FlaskClient, token: str, device: SoftAuthenticator,
                name: str | None = None) -> dict[str, Any]:
    """Register a passkey of `device`; the registration's answer."""
    options = register_options(client, token)["public_key"]
    body: dict[str, Any] = {"credential": device.create(options)}
    if name:
        body["name"] = name
    return assert_ok(client.post("/v1/auth/passkeys/register", headers=bearer(token),
                                 json=body))


def login_options(client: FlaskClient) -> dict[str, Any]:
    return assert_ok(client.post("/v1/auth/passkeys/login/options"))


def passkey_login(client: FlaskClient, device: SoftAuthenticator, **kw: Any) -> Any:
    options = login_options(client)
    return client.post("/v1/auth/passkeys/login", json={
        "challenge_id": options["challenge_id"],
        "credential": device.get(options["public_key"], **kw)})


Enrolled = tuple[Account, SoftAuthenticator, dict[str, Any]]


def with_passkey(client: FlaskClient, name: str = "ada") -> Enrolled:
    """An account with one passkey; its new (`2f.`) token pair."""
    account = make_account(client, name)
    device = SoftAuthenticator()
    registered = add_passkey(client, account.access_token, device)
    return account, device, registered["tokens"]


def enable_totp(client: FlaskClient, clock: Clock, token: str) -> tuple[str, dict[str, Any]]:
    setup = assert_ok(client.post("/v1/auth/2fa/setup", headers=bearer(token), json={}))
    enabled = assert_ok(client.post("/v1/auth/2fa/enable", headers=bearer(token), json={
        "code": pyotp.TOTP(setup["secret"]).at(clock.now)}))
    return setup["secret"], enabled


def events(client: FlaskClient, token: str) -> list[dict[str, Any]]:
    return assert_ok(client.get("/v1/users/me/events", headers=bearer(token)))


# --- registration -------------------------------------------------------------------

def test_register_turns_2fa_on_and_sign_in_with_the_passkey_alone(client: FlaskClient) -> None:
    account = make_account(client, "ada")
    options = register_options(client, account.access_token)
    public_key = options["public_key"]
    assert public_key["rp"] == {"id": "localhost", "name": "Gatehouse"}
    assert public_key["authenticatorSelection"]["residentKey"] == "required"
    assert public_key["authenticatorSelection"]["userVerification"] == "preferred"
    assert public_key["attestation"] == "none"
    assert options["expires_in"] == 300
    device = SoftAuthenticator()
    registered = assert_ok(client.post(
        "/v1/auth/passkeys/register", headers=account.headers,
        json={"credential": device.create(public_key), "name": "Laptop"}))
    assert registered["passkey"]["name"] == "Laptop"
    assert registered["passkey"]["transports"] == ["internal"]
    assert registered["passkey"]["disabled"] is False
    # the first passkey is the first second factor: as enabling 2FA
    tokens = registered["tokens"]
    assert tokens["access_token"].startswith(TFA)
    assert_error(client.get("/v1/users/me", headers=account.headers), 99,
                 "auth.token.2fa_mismatch")
    me = assert_ok(client.get("/v1/users/me", headers=bearer(tokens["access_token"])))
    assert me["two_factor_enabled"] is True
    # passwordless: the passkey names the account; a `2f.` session
    signed_in = assert_ok(passkey_login(client, device))
    assert signed_in["access_token"].startswith(TFA)
    assert assert_ok(client.get("/v1/users/me", headers=bearer(signed_in["access_token"])))[
        "username"] == "ada"
    # the refreshed pair keeps the prefix (session and account agree)
    refreshed = assert_ok(client.post("/v1/auth/refresh",
                                      json={"refresh_token": signed_in["refresh_token"]}))
    assert refreshed["access_token"].startswith(TFA)
    listed = assert_ok(client.get("/v1/auth/passkeys", headers=bearer(tokens["access_token"])))
    assert [p["name"] for p in listed] == ["Laptop"] and listed[0]["last_used_at"]
    kinds = [e["kind"] for e in events(client, signed_in["access_token"])]
    assert "passkey.added" in kinds and "two_factor.enabled" in kinds
    assert any(e["kind"] == "sign_in.succeeded" and (e.get("details") or {}).get("method")
               == "passkey" for e in events(client, signed_in["access_token"]))


def test_a_second_passkey_keeps_the_sessions(client: FlaskClient) -> None:
    _, _, tokens = with_passkey(client)
    second = add_passkey(client, tokens["access_token"], SoftAuthenticator(), "Phone")
    assert second["tokens"] is None and second["passkey"]["name"] == "Phone"
    assert_ok(client.get("/v1/users/me", headers=bearer(tokens["access_token"])))


def test_registration_needs_a_recent_proof_or_the_password(app: Flask,
                                                           client: FlaskClient) -> None:
    account = make_account(client, "ada")
    app.config["REAUTH_MAX_AGE"] = 0  # the login's proof is too old now
    assert_error(client.post("/v1/auth/passkeys/register/options", headers=account.headers,
                             json={}), 99, "auth.reauth.required")
    assert_error(client.post("/v1/auth/passkeys/register/options", headers=account.headers,
                             json={"password": "not the password"}), 22,
                 "auth.password.mismatch")
    register_options(client, account.access_token, password=PASSWORD)
    assert_error(client.post("/v1/auth/passkeys/register/options", json={}), 99,
                 "auth.token.missing")


def test_registration_from_another_origin_is_refused(client: FlaskClient) -> None:
    account = make_account(client, "ada")
    options = register_options(client, account.access_token)["public_key"]
    credential = SoftAuthenticator("https://evil.example").create(options)
    assert_error(client.post("/v1/auth/passkeys/register", headers=account.headers,
                             json={"credential": credential}), 88, "auth.passkey.invalid")
    # the challenge was spent by the failed answer
    good = SoftAuthenticator().create(options)
    assert_error(client.post("/v1/auth/passkeys/register", headers=account.headers,
                             json={"credential": good}), 88, "auth.passkey.challenge_used")


def test_registration_answers_only_its_own_accounts_challenge(client: FlaskClient) -> None:
    ada = make_account(client, "ada")
    bob = make_account(client, "bob")
    options = register_options(client, ada.access_token)["public_key"]
    assert_error(client.post("/v1/auth/passkeys/register", headers=bob.headers,
                             json={"credential": SoftAuthenticator().create(options)}),
                 88, "auth.passkey.challenge_expired")


def test_malformed_credentials_are_88_naming_the_field(client: FlaskClient) -> None:
    account = make_account(client, "ada")
    for credential in ({}, {"response": "x"}, {"response": {"clientDataJSON": "!!"}},
                       {"id": "AA", "response": {"clientDataJSON": "e30"}}):
        meta = assert_error(client.post("/v1/auth/passkeys/register", headers=account.headers,
                                        json={"credential": credential}), 88,
                            "auth.passkey.invalid")
        assert "credential" in meta["description"] or meta.get("fields"), meta
    assert_error(client.post("/v1/auth/passkeys/register", headers=account.headers,
                             json={"credential": "x"}), 88, "request.param.invalid")
    assert_error(client.post("/v1/auth/passkeys/login", json={"challenge_id": "x"}), 88,
                 "request.param.invalid")


# --- sign-in refusals ------------------------------------------------------------------

def test_sign_in_from_another_origin_is_refused(client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    assert_error(passkey_login(client, device, origin="http://localhost:9999"), 88,
                 "auth.passkey.invalid")


def test_a_replayed_answer_is_refused(client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    options = login_options(client)
    body = {"challenge_id": options["challenge_id"],
            "credential": device.get(options["public_key"])}
    assert_ok(client.post("/v1/auth/passkeys/login", json=body))
    assert_error(client.post("/v1/auth/passkeys/login", json=body), 88,
                 "auth.passkey.challenge_used")


def test_an_answer_for_another_challenge_is_refused(client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    first, second = login_options(client), login_options(client)
    assert_error(client.post("/v1/auth/passkeys/login", json={
        "challenge_id": second["challenge_id"],
        "credential": device.get(first["public_key"])}), 88, "auth.passkey.invalid")


def test_an_expired_challenge_is_refused(app: Flask, client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    options = login_options(client)
    with app.app_context():
        db.session.execute(update(PasskeyChallenge).values(
            expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
    assert_error(client.post("/v1/auth/passkeys/login", json={
        "challenge_id": options["challenge_id"],
        "credential": device.get(options["public_key"])}), 88,
        "auth.passkey.challenge_expired")


def test_a_cloned_authenticator_is_refused_and_the_passkey_disabled(
        client: FlaskClient) -> None:
    _, device, tokens = with_passkey(client)
    thief = device.clone()  # same key, same counter
    assert_ok(passkey_login(client, device))  # counter 1
    assert_error(passkey_login(client, thief), 99, "auth.passkey.cloned")  # 1 again
    # disabled for everyone: the owner's copy too, until removed
    assert_error(passkey_login(client, device), 99, "auth.passkey.cloned")
    listed = assert_ok(client.get("/v1/auth/passkeys", headers=bearer(tokens["access_token"])))
    assert listed[0]["disabled"] is True
    assert any(e["kind"] == "second_factor.failed"
               and (e.get("details") or {}).get("reason") == "passkey_cloned"
               for e in events(client, tokens["access_token"]))


def test_an_authenticator_without_a_counter_signs_in_repeatedly(client: FlaskClient) -> None:
    account = make_account(client, "ada")
    device = SoftAuthenticator(counts=False)  # a synced passkey: counter always 0
    add_passkey(client, account.access_token, device)
    for _ in range(2):
        assert assert_ok(passkey_login(client, device))["access_token"].startswith(TFA)


def test_a_deleted_credential_is_refused(client: FlaskClient) -> None:
    _, device, tokens = with_passkey(client)
    second = SoftAuthenticator()
    add_passkey(client, tokens["access_token"], second)
    first_id = assert_ok(client.get("/v1/auth/passkeys",
                                    headers=bearer(tokens["access_token"])))[0]["id"]
    removed = assert_ok(client.delete(f"/v1/auth/passkeys/{first_id}",
                                      headers=bearer(tokens["access_token"]), json={}))
    assert removed == {"removed": True, "tokens": None}
    assert_error(passkey_login(client, device), 99, "auth.passkey.unknown_credential")
    assert_ok(passkey_login(client, second))


def test_passwordless_sign_in_needs_user_verification(client: FlaskClient) -> None:
    account = make_account(client, "ada")
    device = SoftAuthenticator(verifies_user=False)  # a security key without a PIN
    add_passkey(client, account.access_token, device)
    assert login_options(client)["public_key"]["userVerification"] == "required"
    assert_error(passkey_login(client, device), 88,
                 "auth.passkey.user_verification_required")


def test_a_blocked_account_cannot_sign_in_with_a_passkey(app: Flask,
                                                         client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["users", "block", "ada"]).exit_code == 0
    assert_error(passkey_login(client, device), 99, "auth.account.blocked")


# --- the second factor of a password login ----------------------------------------------

def second_factor(client: FlaskClient, challenge_token: str,
                  device: SoftAuthenticator, **kw: Any) -> Any:
    options = assert_ok(client.post("/v1/auth/2fa/passkey/options",
                                    json={"challenge_token": challenge_token}))
    assert options["public_key"]["allowCredentials"]
    return client.post("/v1/auth/2fa/verify", json={
        "challenge_token": challenge_token,
        "credential": device.get(options["public_key"], **kw)})


def password_login(client: FlaskClient, name: str = "ada") -> dict[str, Any]:
    return assert_ok(client.post("/v1/auth/login", json={"login": name, "password": PASSWORD}))


def test_a_passkey_only_account_answers_the_password_login_with_its_passkey(
        client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    challenge = password_login(client)
    assert challenge["two_factor_required"] is True
    # no TOTP: a code is not an answer
    assert_error(client.post("/v1/auth/2fa/verify", json={
        "challenge_token": challenge["challenge_token"], "code": "123456"}), 88,
        "auth.totp.not_enabled")
    tokens = assert_ok(second_factor(client, challenge["challenge_token"], device))
    assert tokens["access_token"].startswith(TFA)
    # the login challenge is spent
    assert_error(client.post("/v1/auth/2fa/passkey/options",
                             json={"challenge_token": challenge["challenge_token"]}), 99,
                 "auth.challenge.invalid")


def test_totp_and_passkey_both_answer_and_both_give_2f(client: FlaskClient,
                                                       clock: Clock) -> None:
    account = make_account(client, "ada")
    secret, enabled = enable_totp(client, clock, account.access_token)
    token = enabled["access_token"]
    device = SoftAuthenticator()
    registered = add_passkey(client, token, device)
    assert registered["tokens"] is None  # 2FA was on already
    assert_ok(client.get("/v1/users/me", headers=bearer(token)))
    challenge = password_login(client)["challenge_token"]
    assert assert_ok(second_factor(client, challenge, device))["access_token"].startswith(TFA)
    clock.step()
    challenge = password_login(client)["challenge_token"]
    by_code = assert_ok(client.post("/v1/auth/2fa/verify", json={
        "challenge_token": challenge, "code": pyotp.TOTP(secret).at(clock.now)}))
    assert by_code["access_token"].startswith(TFA)
    assert assert_ok(passkey_login(client, device))["access_token"].startswith(TFA)
    # TOTP off: the passkey keeps 2FA on, and the new pair says so
    clock.step()
    disabled = assert_ok(client.post("/v1/auth/2fa/disable", headers=bearer(
        by_code["access_token"]), json={"password": PASSWORD,
                                        "code": pyotp.TOTP(secret).at(clock.now)}))
    assert disabled["access_token"].startswith(TFA)
    assert assert_ok(client.get("/v1/users/me", headers=bearer(disabled["access_token"])))[
        "two_factor_enabled"] is True


def test_verify_takes_exactly_one_answer(client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    challenge = password_login(client)["challenge_token"]
    for body in ({}, {"code": "123456", "credential": {"id": "x"}}):
        assert_error(client.post("/v1/auth/2fa/verify",
                                 json={"challenge_token": challenge, **body}), 88,
                     "request.param.invalid")


def test_a_wrong_origin_second_factor_spends_an_attempt(client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    challenge = password_login(client)["challenge_token"]
    assert_error(second_factor(client, challenge, device, origin="https://evil.example"), 88,
                 "auth.passkey.invalid")
    assert assert_ok(second_factor(client, challenge, device))["access_token"].startswith(TFA)


def test_another_accounts_passkey_does_not_answer(client: FlaskClient) -> None:
    _, ada_device, _ = with_passkey(client, "ada")
    _, bob_device, _ = with_passkey(client, "bob")
    challenge = password_login(client, "ada")["challenge_token"]
    options = assert_ok(client.post("/v1/auth/2fa/passkey/options",
                                    json={"challenge_token": challenge}))
    forged = dict(options["public_key"], allowCredentials=[])
    assert_error(client.post("/v1/auth/2fa/verify", json={
        "challenge_token": challenge, "credential": bob_device.get(forged)}), 88,
        "auth.passkey.invalid")


# --- list, rename, remove -----------------------------------------------------------------

def test_rename_and_not_found(client: FlaskClient) -> None:
    _, _, tokens = with_passkey(client, "ada")
    _, _, bob_tokens = with_passkey(client, "bob")
    headers = bearer(tokens["access_token"])
    passkey_id = assert_ok(client.get("/v1/auth/passkeys", headers=headers))[0]["id"]
    renamed = assert_ok(client.patch(f"/v1/auth/passkeys/{passkey_id}", headers=headers,
                                     json={"name": "Work laptop"}))
    assert renamed["name"] == "Work laptop"
    assert_error(client.patch(f"/v1/auth/passkeys/{passkey_id}",
                              headers=bearer(bob_tokens["access_token"]),
                              json={"name": "mine"}), 10, "auth.passkey.not_found")
    assert_error(client.patch(f"/v1/auth/passkeys/{passkey_id}", headers=headers,
                              json={"name": ""}), 88, "request.param.invalid")
    assert_error(client.patch("/v1/auth/passkeys/99999999999999999999", headers=headers,
                              json={"name": "x"}), 88, "request.param.invalid")


def test_removing_the_last_second_factor_is_disabling_2fa(client: FlaskClient) -> None:
    _, device, tokens = with_passkey(client)
    headers = bearer(tokens["access_token"])
    passkey_id = assert_ok(client.get("/v1/auth/passkeys", headers=headers))[0]["id"]
    meta = assert_error(client.delete(f"/v1/auth/passkeys/{passkey_id}", headers=headers,
                                      json={}), 88, "auth.passkey.last_factor")
    assert set(meta["fields"]) == {"password", "credential"}, meta
    options = assert_ok(client.post("/v1/auth/passkeys/confirm/options", headers=headers))
    answer = device.get(options["public_key"])
    assert_error(client.delete(f"/v1/auth/passkeys/{passkey_id}", headers=headers,
                               json={"password": "wrong password", "credential": answer}),
                 22, "auth.password.mismatch")
    removed = assert_ok(client.delete(f"/v1/auth/passkeys/{passkey_id}", headers=headers,
                                      json={"password": PASSWORD, "credential": answer}))
    plain = removed["tokens"]["access_token"]
    assert not plain.startswith(TFA)
    assert_error(client.get("/v1/users/me", headers=headers), 99, "auth.token.2fa_mismatch")
    me = assert_ok(client.get("/v1/users/me", headers=bearer(plain)))
    assert me["two_factor_enabled"] is False
    assert "access_token" in password_login(client)  # no challenge any more
    assert_error(passkey_login(client, device), 99, "auth.passkey.unknown_credential")
    kinds = [e["kind"] for e in events(client, plain)]
    assert "passkey.removed" in kinds and "two_factor.disabled" in kinds


def test_spent_challenges_are_pruned(app: Flask, client: FlaskClient) -> None:
    _, device, _ = with_passkey(client)
    assert_ok(passkey_login(client, device))
    login_options(client)  # live: kept
    with app.app_context():
        pruned = prune(app.config)
        assert pruned["passkey_challenges"] == 2  # the registration's and the sign-in's
        assert db.session.scalar(select(func.count()).select_from(PasskeyChallenge)) == 1
        assert db.session.scalar(select(func.count()).select_from(Passkey)) == 1


@pytest.mark.parametrize("origins,rp_id", [
    ("http://example.com", "example.com"),       # http off localhost
    ("https://example.org", "example.com"),      # not on the RP ID
    ("https://example.com/path", "example.com"),  # not an origin
    (" , ", "localhost"),                      # none
])
def test_bad_webauthn_settings_stop_the_start(monkeypatch: pytest.MonkeyPatch, origins: str,
                                              rp_id: str) -> None:
    from config import ConfigError, get_config

    monkeypatch.setenv("WEBAUTHN_ORIGINS", origins)
    monkeypatch.setenv("WEBAUTHN_RP_ID", rp_id)
    with pytest.raises(ConfigError, match="WEBAUTHN_"):
        get_config("testing")


def test_good_webauthn_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from config import get_config

    monkeypatch.setenv("WEBAUTHN_ORIGINS", "https://example.com, https://id.example.com/")
    monkeypatch.setenv("WEBAUTHN_RP_ID", "Example.com")
    config = get_config("testing")
    assert config["WEBAUTHN_RP_ID"] == "example.com"
    assert config["WEBAUTHN_ORIGINS"] == ["https://example.com", "https://id.example.com"]


def test_the_admin_override_removes_the_passkeys_too(app: Flask, client: FlaskClient) -> None:
    _, device, tokens = with_passkey(client)
    result = app.test_cli_runner().invoke(args=["users", "disable-2fa", "ada"])
    assert result.exit_code == 0, result.output
    assert_error(client.get("/v1/users/me", headers=bearer(tokens["access_token"])), 99,
                 "auth.token.2fa_mismatch")
    assert "access_token" in password_login(client)  # no second factor asked
    assert_error(passkey_login(client, device), 99, "auth.passkey.unknown_credential")


def test_added_and_removed_passkeys_are_mailed(app: Flask, client: FlaskClient) -> None:
    from api.mail.models import MailMessage

    _, _, tokens = with_passkey(client)
    headers = bearer(tokens["access_token"])
    add_passkey(client, tokens["access_token"], SoftAuthenticator(), "Phone")
    phone = assert_ok(client.get("/v1/auth/passkeys", headers=headers))[1]["id"]
    assert_ok(client.delete(f"/v1/auth/passkeys/{phone}", headers=headers, json={}))
    with app.app_context():
        sent = list(db.session.scalars(select(MailMessage.template).order_by(MailMessage.id)))
    assert sent.count("passkey_added") == 2 and sent.count("passkey_removed") == 1
    assert "two_factor_enabled" in sent


@pytest.mark.parametrize("attestation", [
    b"\x81" * 40000 + b"\x00",                      # nested 40,000 deep
    b"\x5b\xff\xff\xff\xff\xff\xff\xff\xff",        # a byte string claiming 2^64 bytes
    b"\xa1\x63fmt\x66packed",                       # another format, no statement
])
def test_hostile_attestations_are_88(client: FlaskClient, attestation: bytes) -> None:
    from tests.passkeys.authenticator import b64

    account = make_account(client, "ada")
    credential = SoftAuthenticator().create(register_options(client,
                                                             account.access_token)["public_key"])
    credential["response"]["attestationObject"] = b64(attestation)
    assert_error(client.post("/v1/auth/passkeys/register", headers=account.headers,
                             json={"credential": credential}), 88, "auth.passkey.invalid")


def test_the_page_and_its_files_are_same_origin_only(client: FlaskClient) -> None:
    import re

    page = client.get("/account/passkeys")
    assert page.status_code == 200 and page.mimetype == "text/html"
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp
    html = page.get_data(as_text=True)
    assert "<script>" not in html and not re.search(r"\bon\w+=", html)  # no inline script
    links = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert links and all(link.startswith("/account/") for link in links)
    for link in links:
        served = client.get(link)
        assert served.status_code == 200 and "Content-Security-Policy" in served.headers
    assert client.get("/account/passkeys.js").mimetype == "text/javascript"
