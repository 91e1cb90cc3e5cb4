"""The 2FA flow through the client against a real server, with pyotp on the real clock.

Each TOTP code is used once and never waited for: enabling uses the current
step's code, a later login the next step's (inside the server's ±1 step window
and newer than the last accepted step), and everything else recovery codes.
"""
from __future__ import annotations

import time

import pyotp
import pytest

from gatehouse_client import (
    AuthRequired, GatehouseClient, InvalidParameter, PasswordNotMatch, TwoFactorChallenge)
from tests.client.live import PASSWORD, signup

pytestmark = pytest.mark.slow


def wrong_code(totp: pyotp.TOTP) -> str:
    """A 6-digit code that matches no step near now."""
    near = {totp.at(time.time() + 30 * k) for k in range(-3, 4)}
    return next(c for c in ("123456", "654321", "111111", "222222") if c not in near)


def enable(client: GatehouseClient) -> tuple[pyotp.TOTP, list[str]]:
    setup = client.setup_2fa()
    assert setup["otpauth_uri"].startswith("otpauth://totp/")
    totp = pyotp.TOTP(setup["secret"])
    with pytest.raises(InvalidParameter) as info:
        client.enable_2fa(wrong_code(totp))
    assert info.value.reason == "auth.totp.invalid" and "code" in info.value.fields
    codes = client.enable_2fa(totp.now())
    return totp, codes


def test_setup_enable_login_with_recovery_and_totp_then_disable(
        gate: GatehouseClient, other: GatehouseClient) -> None:
    name = signup(gate, "tfa")["username"]
    plain = gate.access_token
    totp, codes = enable(gate)
    assert len(codes) == len(set(codes)) == 10
    assert gate.access_token.startswith("2f.")
    assert gate.me()["two_factor_enabled"] is True
    with pytest.raises(InvalidParameter) as info:
        gate.setup_2fa()
    assert info.value.reason == "auth.totp.already_enabled"

    # the prefix must agree with the signed claim and the account: by hand it never passes
    for token in (gate.access_token[3:], plain):
        other.access_token = token
        with pytest.raises(AuthRequired) as info:
            other.me()
        assert info.value.reason == "auth.token.2fa_mismatch" and info.value.should_logout

    # login → challenge → recovery code
    challenge = gate.login(name, PASSWORD)
    assert isinstance(challenge, TwoFactorChallenge) and challenge.expires_in > 0
    assert gate.access_token.startswith("2f.")  # the old session is kept until completed
    tokens = challenge.complete(codes[0])
    assert tokens["access_token"].startswith("2f.") and gate.access_token == tokens["access_token"]
    assert gate.me()["username"] == name
    with pytest.raises(InvalidParameter) as info:
        gate.login(name, PASSWORD).complete(codes[0])  # recovery codes are single-use
    assert info.value.reason == "auth.totp.invalid"

    # login → challenge → TOTP code of the next step (inside the window, never used)
    code = totp.at(time.time() + 30)
    gate.login(name, PASSWORD).complete(code)
    assert gate.me()["two_factor_enabled"] is True
    with pytest.raises(InvalidParameter) as info:
        gate.login(name, PASSWORD).complete(code)  # a TOTP code is accepted once
    assert info.value.reason == "auth.totp.replayed"

    # disable: password first (22), then a code (a recovery code: no TOTP step left to use)
    two_factor = gate.access_token
    with pytest.raises(PasswordNotMatch):
        gate.disable_2fa("wrong-password", codes[1])
    tokens = gate.disable_2fa(PASSWORD, codes[1])
    assert not tokens["access_token"].startswith("2f.")
    assert gate.me()["two_factor_enabled"] is False
    other.access_token = two_factor
    with pytest.raises(AuthRequired) as info:
        other.me()
    assert info.value.reason == "auth.token.2fa_mismatch"
    with pytest.raises(InvalidParameter) as info:
        gate.disable_2fa(PASSWORD, codes[2])
    assert info.value.reason == "auth.totp.not_enabled"
    assert isinstance(gate.login(name, PASSWORD), dict)  # plain login again


def test_challenge_allows_five_wrong_codes_then_is_void(gate: GatehouseClient,
                                                        other: GatehouseClient) -> None:
    name = signup(gate, "guess")["username"]
    totp, codes = enable(gate)
    challenge = other.login(name, PASSWORD)
    assert isinstance(challenge, TwoFactorChallenge)

    # a challenge token is not an access token
    other.access_token = challenge.challenge_token
    with pytest.raises(AuthRequired) as info:
        other.me()
    assert info.value.reason == "auth.token.wrong_type"

    for _ in range(5):
        with pytest.raises(InvalidParameter):
            challenge.complete(wrong_code(totp))
    with pytest.raises(AuthRequired) as info:
        challenge.complete(codes[0])  # even a right code: the challenge is spent
    assert info.value.reason == "auth.challenge.exhausted"
    assert info.value.should_login and not info.value.should_logout
    other.login(name, PASSWORD).complete(codes[0])  # a new login works
    assert other.me()["username"] == name
