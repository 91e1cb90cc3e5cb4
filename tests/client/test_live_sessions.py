"""The client's session and event methods against a real server."""
from __future__ import annotations

import pytest

from gatehouse_client import AuthRequired, GatehouseClient, InvalidParameter
from tests.client.live import PASSWORD, signup

pytestmark = pytest.mark.slow


def test_sessions_logout_scopes_and_events(gate: GatehouseClient,
                                           other: GatehouseClient) -> None:
    user = signup(gate, "sess")
    other.login(user["username"], PASSWORD)
    listed = gate.list_sessions()
    assert len(listed) == 2 and sum(s["current"] for s in listed) == 1
    assert all(s["agent"]["browser"] is None or s["agent"]["browser"] for s in listed)
    theirs = next(s["id"] for s in listed if not s["current"])
    gate.revoke_session(theirs)
    with pytest.raises(AuthRequired) as info:
        other.me()
    assert info.value.reason == "auth.token.revoked"
    with pytest.raises(InvalidParameter) as missing:
        gate.revoke_session(theirs)
    assert missing.value.reason == "auth.session.not_found"
    with pytest.raises(InvalidParameter) as odd:
        gate.revoke_session("not an id?")  # quoted: one path segment
    assert odd.value.reason == "auth.session.not_found"

    other.login(user["username"], PASSWORD)
    assert gate.logout(scope="others") == 1
    assert gate.tokens is not None and len(gate.list_sessions()) == 1
    kinds = [e["kind"] for e in gate.my_events(page_size=2)]
    assert kinds == ["logout", "sign_in.succeeded", "session.revoked",
                     "sign_in.succeeded", "sign_in.succeeded"]
    page = gate.events_page(limit=1)
    assert len(page["data"]) == 1 and page["pagination"]["next_cursor"]
    assert gate.logout() == 1 and gate.tokens is None
