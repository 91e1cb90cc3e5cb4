"""GET/DELETE /v1/auth/sessions, logout scopes, and the absolute session lifetime."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask.testing import FlaskClient

from config import ConfigError, get_config
from tests.helpers import (
    PASSWORD, Account, UtcClock, assert_error, assert_ok, bearer, me, refresh)

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0"
IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
          "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1")


def sign_in(client: FlaskClient, agent: str, name: str = "ada") -> dict:
    return assert_ok(client.post("/v1/auth/login", json={"login": name, "password": PASSWORD},
                                 headers={"User-Agent": agent}))


def sessions(client: FlaskClient, token: str) -> list[dict]:
    return assert_ok(client.get("/v1/auth/sessions", headers=bearer(token)))


def test_lists_the_callers_live_sessions_with_parsed_agents(
        client: FlaskClient, ada: Account, bob: Account) -> None:
    laptop = sign_in(client, FIREFOX)
    phone = sign_in(client, IPHONE)
    listed = sessions(client, laptop["access_token"])
    # ada's fixture login, the laptop and the phone; none of bob's
    assert len(listed) == 3
    by_agent = {s["user_agent"]: s for s in listed}
    firefox, iphone = by_agent[FIREFOX], by_agent[IPHONE]
    assert firefox["current"] is True and iphone["current"] is False
    assert sum(s["current"] for s in listed) == 1
    assert firefox["agent"]["browser"] == "Firefox"
    assert firefox["agent"]["browser_version"] == "120.0"
    assert firefox["agent"]["os"] == "Ubuntu"
    assert iphone["agent"]["browser"] == "Mobile Safari"
    assert iphone["agent"]["os"] == "iOS"
    assert iphone["agent"]["device"] == "iPhone"
    for s in listed:
        assert s["client_address"] == "127.0.0.1"
        assert s["two_factor"] is False
        assert s["created_at"].endswith("+00:00")
        assert s["expires_at"] > s["last_used_at"] >= s["created_at"]
        assert set(s) == {"id", "current", "created_at", "last_used_at", "expires_at",
                          "client_address", "user_agent", "agent", "two_factor"}
    # no token or hash of any kind in the listing
    text = str(listed)
    assert phone["refresh_token"] not in text and "refresh_hash" not in text


def test_user_agent_is_cleaned_and_cut_to_its_column(client: FlaskClient, ada: Account) -> None:
    agent = "Evil\tAgent\x7f " + "x" * 600
    tokens = sign_in(client, agent)
    stored = next(s for s in sessions(client, tokens["access_token"]) if s["current"])
    assert stored["user_agent"].startswith("EvilAgent x")
    assert len(stored["user_agent"]) == 256
    assert stored["agent"] == {"browser": None, "browser_version": None, "os": None,
                               "os_version": None, "device": None}


def test_ending_another_session_stops_its_tokens_at_once(client: FlaskClient,
                                                         ada: Account) -> None:
    laptop = sign_in(client, FIREFOX)
    phone = sign_in(client, IPHONE)
    phone_id = next(s["id"] for s in sessions(client, phone["access_token"]) if s["current"])
    assert assert_ok(client.delete(f"/v1/auth/sessions/{phone_id}",
                                   headers=bearer(laptop["access_token"]))) == {"revoked": True}
    assert_error(me(client, phone["access_token"]), 99, "auth.token.revoked")
    assert_error(refresh(client, phone["refresh_token"]), 99, "auth.refresh.invalid")
    assert phone_id not in {s["id"] for s in sessions(client, laptop["access_token"])}
    assert_ok(me(client, laptop["access_token"]))
    # ended already: the same answer as an unknown id
    assert_error(client.delete(f"/v1/auth/sessions/{phone_id}",
                               headers=bearer(laptop["access_token"])),
                 88, "auth.session.not_found")


def test_someone_elses_session_is_answered_like_an_unknown_one(
        client: FlaskClient, ada: Account, bob: Account) -> None:
    bobs = next(s["id"] for s in sessions(client, bob.access_token))
    answers = []
    for session_id in (bobs, "0" * 32, "nope", "%00"):
        meta = assert_error(client.delete(f"/v1/auth/sessions/{session_id}",
                                          headers=ada.headers), 88, "auth.session.not_found")
        meta.pop("request_id")
        answers.append(meta)
    assert all(a == answers[0] for a in answers)
    assert answers[0]["fields"] == {"id": ["No live session of yours has this id."]}
    assert_ok(me(client, bob.access_token))  # untouched


def test_sessions_need_a_bearer(client: FlaskClient) -> None:
    assert_error(client.get("/v1/auth/sessions"), 99, "auth.token.missing")
    assert_error(client.delete("/v1/auth/sessions/" + "0" * 32), 99, "auth.token.missing")


def test_logout_others_leaves_only_the_current_session(client: FlaskClient,
                                                       ada: Account) -> None:
    laptop = sign_in(client, FIREFOX)
    phone = sign_in(client, IPHONE)
    data = assert_ok(client.post("/v1/auth/logout", json={"scope": "others"},
                                 headers=bearer(laptop["access_token"])))
    assert data == {"logged_out": True, "revoked_sessions": 2}
    assert [s["current"] for s in sessions(client, laptop["access_token"])] == [True]
    assert_error(me(client, phone["access_token"]), 99, "auth.token.revoked")
    assert_error(me(client, ada.access_token), 99, "auth.token.revoked")


def test_logout_all_and_the_legacy_bodyless_logout(client: FlaskClient, ada: Account) -> None:
    laptop = sign_in(client, FIREFOX)
    # no body at all: the current session only, as before scopes existed
    assert assert_ok(client.post("/v1/auth/logout", headers=ada.headers)) == {
        "logged_out": True, "revoked_sessions": 1}
    assert_ok(me(client, laptop["access_token"]))
    phone = sign_in(client, IPHONE)
    data = assert_ok(client.post("/v1/auth/logout", json={"scope": "all"},
                                 headers=bearer(phone["access_token"])))
    assert data["revoked_sessions"] == 2
    for token in (laptop["access_token"], phone["access_token"]):
        assert_error(me(client, token), 99, "auth.token.revoked")


def test_logout_scope_is_checked(client: FlaskClient, ada: Account) -> None:
    meta = assert_error(client.post("/v1/auth/logout", json={"scope": "everyone"},
                                    headers=ada.headers), 88, "request.param.invalid")
    assert list(meta["fields"]) == ["scope"]
    assert_ok(me(client, ada.access_token))


def test_a_session_refreshed_daily_stops_at_its_absolute_lifetime(
        client: FlaskClient, ada: Account, utc_clock: UtcClock) -> None:
    client.application.config.update(REFRESH_TOKEN_TTL=2 * 86400, SESSION_MAX_AGE=10 * 86400)
    tokens = sign_in(client, FIREFOX)
    for day in range(1, 10):
        utc_clock.advance(days=1)
        tokens = assert_ok(refresh(client, tokens["refresh_token"]))
        listed = next(s for s in sessions(client, tokens["access_token"]) if s["current"])
        created, used, expires = (datetime.fromisoformat(listed[k]) for k in
                                  ("created_at", "last_used_at", "expires_at"))
        assert used - created == timedelta(days=day)
        # two days on from each refresh, until that would pass the tenth day
        assert expires == min(used + timedelta(days=2), created + timedelta(days=10))
    utc_clock.advance(days=1, seconds=1)  # ten days and a second after sign-in
    assert_error(refresh(client, tokens["refresh_token"]), 99, "auth.refresh.invalid")
    assert_error(me(client, tokens["access_token"]), 99, "auth.token.revoked")


def test_session_max_age_is_validated_at_start_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SESSION_MAX_AGE", "a month")
    with pytest.raises(ConfigError, match="SESSION_MAX_AGE must be an integer"):
        get_config("testing")
    monkeypatch.setenv("SESSION_MAX_AGE", "10")
    with pytest.raises(ConfigError, match="SESSION_MAX_AGE must be at least 60"):
        get_config("testing")
    monkeypatch.setenv("SESSION_MAX_AGE", "3600")
    assert get_config("testing")["SESSION_MAX_AGE"] == 3600
    monkeypatch.delenv("SESSION_MAX_AGE")
    assert get_config("testing")["SESSION_MAX_AGE"] == 30 * 86400
