"""Sessions and events as a client sees them through gunicorn (and nginx).

Two "devices" (two User-Agents, two source addresses on loopback) sign in
to one account: one lists both, ends the other, whose tokens answer 99 at
once (another worker may serve the next request: the check is the
database's, not a process's memory); logout scope=others leaves one.
"""
from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any, Iterator

import pytest

from tests.nginx import NGINX, Nginx
from tests.server import fresh_database, migrate, running, server_env

pytestmark = pytest.mark.slow

PASSWORD = "correct horse battery staple"
LAPTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) " \
         "Chrome/120.0.0.0 Safari/537.36"
PHONE = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) " \
        "Chrome/120.0.6099.144 Mobile Safari/537.36"


class Device:
    """A client on its own loopback address with its own User-Agent."""

    def __init__(self, port: int, source: str, agent: str) -> None:
        self.port, self.source, self.agent = port, source, agent
        self.tokens: dict[str, Any] = {}

    def call(self, method: str, path: str, body: Any = None,
             token: str | None = None) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20,
                                          source_address=(self.source, 0))
        headers = {"Content-Type": "application/json", "User-Agent": self.agent}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            conn.request(method, path, body=None if body is None else json.dumps(body),
                         headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def ok(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        status, answer = self.call(method, path, body,
                                   self.tokens.get("access_token") if token is None else token)
        assert status == 200, answer
        return answer["data"]

    def sign_in(self, name: str) -> None:
        self.tokens = self.ok("POST", "/v1/auth/login", {"login": name, "password": PASSWORD},
                              token="")

    def reason(self, method: str, path: str, body: Any = None,
               token: str | None = None) -> tuple[int, str]:
        _, answer = self.call(method, path, body, token)
        return answer["meta"]["code"], answer["meta"]["reason"]


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("sessions")
    with fresh_database(tmp, "sessions") as url:
        migrate(server_env(url))
        yield url


def register(device: Device, name: str) -> None:
    device.ok("POST", "/v1/auth/register", {"username": name, "email": f"{name}@example.com",
                                            "password": PASSWORD}, token="")


def test_two_devices_list_end_and_log_out_the_others(database: str) -> None:
    for server in running(server_env(database), workers=2):
        laptop = Device(server.port, "127.0.0.2", LAPTOP)
        phone = Device(server.port, "127.0.0.3", PHONE)
        register(laptop, "dev2")
        laptop.sign_in("dev2")
        phone.sign_in("dev2")
        listed = laptop.ok("GET", "/v1/auth/sessions")
        assert len(listed) == 2
        mine = next(s for s in listed if s["current"])
        other = next(s for s in listed if not s["current"])
        assert (mine["client_address"], mine["agent"]["browser"], mine["agent"]["os"]) == (
            "127.0.0.2", "Chrome", "Windows")
        assert (other["client_address"], other["agent"]["browser"],
                other["agent"]["os"], other["agent"]["device"]) == (
            "127.0.0.3", "Chrome Mobile", "Android", "Pixel 8")
        assert laptop.ok("DELETE", f"/v1/auth/sessions/{other['id']}") == {"revoked": True}
        # at once, whichever worker answers
        for _ in range(4):
            assert phone.reason("GET", "/v1/users/me",
                                token=phone.tokens["access_token"]) == (99, "auth.token.revoked")
        assert phone.reason("POST", "/v1/auth/refresh",
                            {"refresh_token": phone.tokens["refresh_token"]}, token="") == (
            99, "auth.refresh.invalid")
        # the events name each device's own address and agent
        events = laptop.ok("GET", "/v1/users/me/events")
        assert [e["kind"] for e in events] == ["session.revoked", "sign_in.succeeded",
                                               "sign_in.succeeded"]
        assert [(e["client_address"], e["user_agent"]) for e in events] == [
            ("127.0.0.2", LAPTOP), ("127.0.0.3", PHONE), ("127.0.0.2", LAPTOP)]
        assert events[0]["session_id"] == mine["id"]
        assert events[0]["details"] == {"by": "user", "session": other["id"]}

        phone.sign_in("dev2")
        second_laptop = Device(server.port, "127.0.0.4", LAPTOP)
        second_laptop.sign_in("dev2")
        assert len(laptop.ok("GET", "/v1/auth/sessions")) == 3
        assert laptop.ok("POST", "/v1/auth/logout", {"scope": "others"}) == {
            "logged_out": True, "revoked_sessions": 2}
        assert [s["id"] for s in laptop.ok("GET", "/v1/auth/sessions")] == [mine["id"]]
        for device in (phone, second_laptop):
            assert device.reason("GET", "/v1/users/me",
                                 token=device.tokens["access_token"]) == (
                99, "auth.token.revoked")
        # a bodyless logout (legacy clients) still ends the current session
        assert laptop.ok("POST", "/v1/auth/logout")["revoked_sessions"] == 1
        assert laptop.reason("GET", "/v1/auth/sessions",
                             token=laptop.tokens["access_token"]) == (99, "auth.token.revoked")


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed "
                    "(apt-get install nginx; .ci/run installs it)")
def test_behind_nginx_events_and_sessions_name_the_client(database: str,
                                                          tmp_path: Path) -> None:
    env = server_env(database)
    env.pop("FORWARDED_ALLOW_IPS", None)  # the default: nginx on this host
    for server in running(env, workers=1):
        nginx = Nginx(tmp_path / "nginx", f"127.0.0.1:{server.port}")
        try:
            nginx.wait_ready()
            device = Device(nginx.port, "127.0.0.5", PHONE)
            register(device, "proxied")
            # a wrong password (rolled back, still recorded), then a sign-in
            assert device.reason("POST", "/v1/auth/login",
                                 {"login": "proxied", "password": "not the password"},
                                 token="") == (22, "auth.password.mismatch")
            device.sign_in("proxied")
            events = device.ok("GET", "/v1/users/me/events")
            assert [(e["kind"], e["client_address"]) for e in events] == [
                ("sign_in.succeeded", "127.0.0.5"), ("sign_in.failed", "127.0.0.5")]
            assert events[1]["details"] == {"reason": "wrong_password"}
            assert [s["client_address"] for s in device.ok("GET", "/v1/auth/sessions")] == [
                "127.0.0.5"]
        finally:
            nginx.stop()
