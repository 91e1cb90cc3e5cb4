"""The client's address behind trusted proxies (FORWARDED_ALLOW_IPS).

gunicorn sets REMOTE_ADDR to the peer of the TCP connection: behind nginx,
nginx's own address for every client. Its ``forwarded_allow_ips`` setting
only decides whose X-Forwarded-Proto it believes; it never reads
X-Forwarded-For. So the app does, here, before anything reads the address:
rate-limit keys (Flask-Limiter reads ``request.remote_addr``), logs, and
gunicorn's access line (which reads REMOTE_ADDR from the same environ after
the app has answered).

The rule, the one nginx's realip module and Rails' remote_ip follow: when the
peer is a trusted proxy, walk X-Forwarded-For from the right, skipping the
addresses of trusted proxies; the first address that is not one is the
client. Everything left of it was written by the client or by proxies we do
not know, and is ignored. A peer that is not trusted is the client, whatever
it sends. werkzeug's ProxyFix counts hops instead, which breaks as soon as a
request reaches gunicorn by a path with another number of proxies (a health
check straight from the host, a second proxy tier).

``*`` trusts whatever connects (the peer only, never an address inside the
header): safe only where nothing but the proxy can reach gunicorn. A peer
with no IP address (a UNIX socket) is trusted, as gunicorn trusts it.
"""
from __future__ import annotations

import ipaddress
from typing import Any, Callable, Iterable

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# the original peer, kept for logs that want the hop too
PEER_ENVIRON_KEY = "gatehouse.proxy_peer"


def parse_trusted(value: str) -> tuple[bool, tuple[Network, ...]]:
    """FORWARDED_ALLOW_IPS ("127.0.0.1,10.0.0.0/8", "*"): (any peer trusted,
    the trusted networks). ValueError names the entry that is neither an
    address, a network, nor "*"."""
    any_peer = False
    networks: list[Network] = []
    for entry in (part.strip() for part in value.split(",")):
        if not entry:
            continue
        if entry == "*":
            any_peer = True
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError:
            raise ValueError(f"{entry!r} is not an IP address, a network (10.0.0.0/8) "
                             f"or '*'") from None
    return any_peer, tuple(networks)


def _address(text: str) -> Address | None:
    """An address as a proxy writes it: bare, "[v6]", "[v6]:port" or
    "v4:port" (some proxies add the port); IPv4-mapped IPv6 as IPv4."""
    text = text.strip()
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


class ClientAddressResolver:
    """Who the client is, from the peer and X-Forwarded-For."""

    def __init__(self, trusted: str) -> None:
        self.any_peer, self.networks = parse_trusted(trusted)
        # the usual setting is a few single addresses: a string lookup
        # answers for them without parsing the peer
        self._exact = frozenset(str(n.network_address) for n in self.networks
                                if n.num_addresses == 1)

    def _trusted(self, address: Address) -> bool:
        return any(address in network for network in self.networks)

    def _peer_trusted(self, peer: str) -> bool:
        if self.any_peer or peer in self._exact:
            return True
        address = _address(peer)
        return address is None or self._trusted(address)  # None: a UNIX socket

    def resolve(self, peer: str, forwarded_for: Iterable[str]) -> str:
        """The client's address: ``peer`` unless it is a trusted proxy that
        says who connected to it. ``forwarded_for`` is the header's entries,
        left to right."""
        if not self._peer_trusted(peer):
            return peer
        hops = list(forwarded_for)
        client = peer
        for entry in reversed(hops):
            address = _address(entry)
            if address is None:
                # not written by a proxy (each writes a valid address):
                # the last hop we believe is the answer
                return client
            client = str(address)
            if not self._trusted(address):
                return client
        return client  # every hop a trusted proxy: the left-most is the origin


class ClientAddressMiddleware:
    """WSGI middleware: REMOTE_ADDR becomes the resolved client address."""

    def __init__(self, app: Callable[..., Any], trusted: str) -> None:
        self.app = app
        self.resolver = ClientAddressResolver(trusted)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            peer = environ.get("REMOTE_ADDR") or ""
            client = self.resolver.resolve(peer, forwarded.split(","))
            if client != peer:
                environ[PEER_ENVIRON_KEY] = peer
                environ["REMOTE_ADDR"] = client
        return self.app(environ, start_response)
