"""The client address through trusted proxies only (FORWARDED_ALLOW_IPS)."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from api.proxies import ClientAddressResolver, parse_trusted
from config import ConfigError, get_config
from tests.auth.test_rate_limits import assert_429, limited_app


def resolve(trusted: str, peer: str, header: str | None) -> str:
    return ClientAddressResolver(trusted).resolve(peer, header.split(",") if header else [])


@pytest.mark.parametrize("trusted, peer, header, client", [
    # an untrusted peer is the client, whatever it sends
    ("127.0.0.1", "203.0.113.7", "1.1.1.1", "203.0.113.7"),
    ("127.0.0.1", "203.0.113.7", None, "203.0.113.7"),
    # nginx on the host: the address it appended
    ("127.0.0.1", "127.0.0.1", "198.51.100.4", "198.51.100.4"),
    # ... and not what the client put before it
    ("127.0.0.1", "127.0.0.1", "6.6.6.6, 198.51.100.4", "198.51.100.4"),
    # a chain of trusted proxies is walked from the right
    ("127.0.0.1,10.0.0.0/8", "127.0.0.1", "6.6.6.6, 198.51.100.4, 10.1.2.3, 10.9.9.9",
     "198.51.100.4"),
    # a trusted peer without the header: the peer
    ("127.0.0.1", "127.0.0.1", None, "127.0.0.1"),
    # every hop trusted: the left-most is the origin
    ("10.0.0.0/8", "10.0.0.1", "10.0.0.5, 10.0.0.9", "10.0.0.5"),
    # garbage where a proxy would have written an address: the last hop believed
    ("127.0.0.1", "127.0.0.1", "198.51.100.4, not-an-ip", "127.0.0.1"),
    ("127.0.0.1,10.0.0.0/8", "127.0.0.1", "x, 10.0.0.2", "10.0.0.2"),
    ("127.0.0.1", "127.0.0.1", "", "127.0.0.1"),
    # "*" trusts the peer only: the right-most entry, never the client's own
    ("*", "192.0.2.50", "6.6.6.6, 198.51.100.4", "198.51.100.4"),
    # the forms proxies write: ports, brackets, IPv6, IPv4-mapped
    ("127.0.0.1", "127.0.0.1", "198.51.100.4:51234", "198.51.100.4"),
    ("127.0.0.1", "127.0.0.1", "[2001:db8::1]:443", "2001:db8::1"),
    ("127.0.0.1", "127.0.0.1", "2001:DB8:0:0::1", "2001:db8::1"),
    ("::1", "::1", "::ffff:198.51.100.4", "198.51.100.4"),
    ("127.0.0.1", "::ffff:127.0.0.1", "198.51.100.4", "198.51.100.4"),
    # a UNIX socket (no address) is trusted, as gunicorn trusts it
    ("127.0.0.1", "", "198.51.100.4", "198.51.100.4"),
])
def test_resolve(trusted: str, peer: str, header: str | None, client: str) -> None:
    assert resolve(trusted, peer, header) == client


@pytest.mark.parametrize("value", ["127.0.0.1,nope", "10.0.0.1/8", "300.1.1.1", "::1/129"])
def test_bad_settings_stop_start_up(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError):
        parse_trusted(value)
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", value)
    with pytest.raises(ConfigError, match="FORWARDED_ALLOW_IPS"):
        get_config("testing")


def test_setting_accepts_lists_networks_and_star(monkeypatch: pytest.MonkeyPatch) -> None:
    assert get_config("testing")["FORWARDED_ALLOW_IPS"] == "127.0.0.1"
    monkeypatch.setenv("FORWARDED_ALLOW_IPS", "127.0.0.1, 10.0.0.0/8,::1,*")
    assert get_config("testing")["FORWARDED_ALLOW_IPS"] == "127.0.0.1, 10.0.0.0/8,::1,*"


def login(client: Any, peer: str, forwarded: str | None = None) -> Any:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    # another account each time: only the per-address limit can answer 429
    return client.post("/v1/auth/login", json={"login": f"nobody-{uuid.uuid4().hex[:12]}",
                                               "password": "whatever-pass"},
                       headers=headers, environ_base={"REMOTE_ADDR": peer})


def test_rate_limits_see_the_client_behind_a_trusted_proxy() -> None:
    app = limited_app(RATELIMIT_LOGIN="2 per minute", RATELIMIT_LOGIN_ACCOUNT="100 per minute",
                      FORWARDED_ALLOW_IPS="10.0.0.0/8")
    client = app.test_client()
    for _ in range(2):
        assert login(client, "10.0.0.1", "198.51.100.1").status_code != 429
    assert_429(login(client, "10.0.0.1", "198.51.100.1"))
    # another client through the same proxy has its own bucket
    assert login(client, "10.0.0.1", "198.51.100.2").status_code != 429
    # the limited client cannot escape by prepending an address of its choice
    assert_429(login(client, "10.0.0.1", "1.2.3.4, 198.51.100.1"))


def test_a_client_cannot_choose_its_address_directly() -> None:
    app = limited_app(RATELIMIT_LOGIN="2 per minute", RATELIMIT_LOGIN_ACCOUNT="100 per minute")
    client = app.test_client()
    for i in range(2):
        assert login(client, "203.0.113.9", f"198.51.100.{i}").status_code != 429
    # a new X-Forwarded-For each time: still one address, one bucket
    assert_429(login(client, "203.0.113.9", "198.51.100.77"))
