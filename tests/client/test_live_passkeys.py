"""The passkey endpoints through the client against a real server; the
authenticator's part is played by the suite's software authenticator (the
client leaves it to the caller, as a browser would do it)."""
from __future__ import annotations

import pytest

from gatehouse_client import AuthRequired, GatehouseClient, InvalidParameter, TwoFactorChallenge
from tests.client.live import PASSWORD, signup
from tests.passkeys.authenticator import SoftAuthenticator

pytestmark = pytest.mark.slow


def test_register_sign_in_second_factor_rename_and_remove(gate: GatehouseClient,
                                                          other: GatehouseClient) -> None:
    name = signup(gate, "pk")["username"]
    device = SoftAuthenticator()
    options = gate.passkey_register_options()
    passkey = gate.register_passkey(device.create(options["public_key"]), name="Laptop")
    assert passkey["name"] == "Laptop"
    assert gate.access_token.startswith("2f.")  # the first passkey: 2FA on, new pair kept
    assert gate.me()["two_factor_enabled"] is True

    options = other.passkey_login_options()
    tokens = other.login_with_passkey(options["challenge_id"],
                                      device.get(options["public_key"]))
    assert tokens["access_token"].startswith("2f.") and other.me()["username"] == name
    with pytest.raises(InvalidParameter) as info:  # the same answer again
        other.login_with_passkey(options["challenge_id"], device.get(options["public_key"]))
    assert info.value.reason == "auth.passkey.challenge_used"

    challenge = other.login(name, PASSWORD)
    assert isinstance(challenge, TwoFactorChallenge)
    answer = device.get(challenge.passkey_options()["public_key"])
    assert challenge.complete_with_passkey(answer)["access_token"].startswith("2f.")

    assert gate.rename_passkey(passkey["id"], "Old laptop")["name"] == "Old laptop"
    assert [p["name"] for p in gate.list_passkeys()] == ["Old laptop"]
    with pytest.raises(InvalidParameter) as info:
        gate.remove_passkey(passkey["id"], password=PASSWORD)
    assert info.value.reason == "auth.passkey.last_factor"
    confirm = device.get(gate.passkey_confirm_options()["public_key"])
    plain = gate.remove_passkey(passkey["id"], password=PASSWORD, credential=confirm)
    assert plain is not None and not gate.access_token.startswith("2f.")
    assert gate.list_passkeys() == []
    with pytest.raises(AuthRequired) as denied:  # the 2f. session ended with 2FA
        other.me()
    assert denied.value.reason in ("auth.token.2fa_mismatch", "auth.token.revoked")
