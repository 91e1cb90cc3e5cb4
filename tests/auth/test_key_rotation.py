"""The README's key rotation on two gunicorn instances sharing one database.

Add the new public key to JWT_VERIFY_KEY_FILES on every instance, switch the
signer on every instance, then (after the longest access-token lifetime)
drop the old key. The signer switches one instance at a time, so mid-way
one signs with each key. After every restart, every session's access token
is accepted by both instances (or, once past its lifetime, refused with a
reason clients answer by refreshing), and every refresh token still works:
no one is logged out.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from tests.helpers import write_key_pair
from tests.server import Gunicorn, fresh_database, migrate, server_env

pytestmark = pytest.mark.slow

TTL = 6  # the access-token lifetime here: step 3 waits it out
REFRESHING = {"auth.token.expired", "auth.token.unknown_key"}  # clients refresh, once


class Fleet:
    """Two instances, "x" and "y", each restarted with its own key settings."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.servers: dict[str, Gunicorn] = {}

    def restart(self, names: str, sign: tuple[str, str], verify: tuple[str, ...] = ()) -> None:
        """Replace the named instances with ones of these settings; several
        boot side by side (where the order does not matter: no token of a
        key only one of them knows is live yet, or any more)."""
        env = {**self.env, "JWT_PRIVATE_KEY_FILE": sign[0], "JWT_PUBLIC_KEY_FILE": sign[1],
               "JWT_VERIFY_KEY_FILES": ",".join(verify)}
        booted = {name: Gunicorn(env, workers=1) for name in names}
        try:
            for server in booted.values():
                server.wait_ready()
        finally:
            for name, server in booted.items():
                old = self.servers.get(name)
                self.servers[name] = server
                if old is not None:
                    old.stop()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[tuple[Fleet, dict[str, tuple[str, str]]]]:
    keys = {"old": write_key_pair(ed25519.Ed25519PrivateKey.generate(), tmp_path, "old"),
            "new": write_key_pair(ed25519.Ed25519PrivateKey.generate(), tmp_path, "new")}
    with fresh_database(tmp_path, "rotation") as url:
        env = server_env(url, JWT_ALGORITHM="EdDSA", ACCESS_TOKEN_TTL=str(TTL))
        migrate({**env, "JWT_PRIVATE_KEY_FILE": keys["old"][0],
                 "JWT_PUBLIC_KEY_FILE": keys["old"][1]})
        fleet = Fleet(env)
        try:
            yield fleet, keys
        finally:
            fleet.stop()


def _kid(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def _check(fleet: Fleet, sessions: list[dict[str, Any]], seen_kids: set[str]) -> None:
    """No one is logged out: each access token works on both instances (or
    asks for a refresh once expired) and each session refreshes, on the
    instances in turn, into a token both accept."""
    names = sorted(fleet.servers)
    for i, session in enumerate(sessions):
        for name in names:
            status, _, body = fleet.servers[name].call(
                "GET", "/v1/users/me", headers={"Authorization": f"Bearer {session['access']}"})
            if status != 200:
                assert body["meta"]["reason"] in REFRESHING, (name, body)
                assert jwt.decode(session["access"], options={"verify_signature": False})[
                    "exp"] <= time.time() + 1, ("a live token was refused", name, body)
        server = fleet.servers[names[i % len(names)]]
        status, _, body = server.call("POST", "/v1/auth/refresh",
                                      {"refresh_token": session["refresh"]})
        assert status == 200, body
        session["access"] = body["data"]["access_token"]
        session["refresh"] = body["data"]["refresh_token"]
        seen_kids.add(_kid(session["access"]))
        for name in names:
            status, _, body = fleet.servers[name].call(
                "GET", "/v1/users/me", headers={"Authorization": f"Bearer {session['access']}"})
            assert status == 200, (name, body)


def test_a_key_rotation_on_two_instances_logs_no_one_out(
        fleet: tuple[Fleet, dict[str, tuple[str, str]]]) -> None:
    instances, keys = fleet
    old, new = keys["old"], keys["new"]
    instances.restart("xy", old)
    sessions = []
    for i, name in enumerate(("x", "y", "x")):
        server = instances.servers[name]
        user = f"rot{i}"
        status, _, body = server.call("POST", "/v1/auth/register", {
            "username": user, "email": f"{user}@example.com", "password": "rotation-pass-1"})
        assert status == 200, body
        status, _, body = server.call("POST", "/v1/auth/login",
                                      {"login": user, "password": "rotation-pass-1"})
        assert status == 200, body
        sessions.append({"access": body["data"]["access_token"],
                         "refresh": body["data"]["refresh_token"]})
    kids: set[str] = set()
    _check(instances, sessions, kids)
    old_kid = _kid(sessions[0]["access"])

    # 1. every instance learns the new public key (and publishes it)
    instances.restart("xy", old, verify=(new[1],))
    _check(instances, sessions, kids)
    _, _, jwks = instances.servers["x"].call("GET", "/.well-known/jwks.json")
    assert [k["kid"] for k in jwks["keys"]][0] == old_kid and len(jwks["keys"]) == 2

    # 2. switch the signer, one at a time: mid-way each instance signs with
    # another key, and each accepts the other's tokens
    instances.restart("x", new, verify=(old[1],))
    mixed: set[str] = set()
    _check(instances, sessions, mixed)
    assert len(mixed) == 2, "mid-rotation, both keys signed"
    instances.restart("y", new, verify=(old[1],))
    _check(instances, sessions, kids)
    old_tokens_expire = time.time() + TTL  # the last old-key token was made before this

    # 3. after the longest access-token lifetime, drop the old key
    time.sleep(max(0.0, old_tokens_expire - time.time() + 1))
    instances.restart("xy", new)
    _check(instances, sessions, kids)
    _, _, jwks = instances.servers["y"].call("GET", "/.well-known/jwks.json")
    assert [k["kid"] for k in jwks["keys"]] == [_kid(sessions[0]["access"])] != [old_kid]
