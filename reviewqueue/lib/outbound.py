"""Which URLs webhooks and callbacks may reach, and at which addresses.

Loopback, private, link-local and other non-public addresses are refused unless
REVIEWQUEUE_OUTBOUND_ALLOWLIST lists the host or a CIDR containing the address. An entry may
name a port (`127.0.0.1:9100`, `hooks.internal:8443`, `[fd00::/8]:443`) or any port (`:*`);
an entry without a port allows 80 and 443 only, so allowing a host never opens its other
services (a database, a cache, an admin port). Public addresses need no entry.

Checked when configured and again at send time: `resolve_target` resolves the host once,
checks every address, and returns them; the sender connects only to those (see
executors/http.py), so a DNS answer that changes between the check and the connection
(rebinding) cannot move the request to an address that was never checked.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

DEFAULT_PORTS = frozenset({80, 443})
# NAT64 prefixes (RFC 6052, RFC 8215): the gateway forwards them to whatever IPv4 address
# the low bits spell, loopback and metadata included.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# IPv4-compatible (::a.b.c.d, deprecated) and IPv4-translated (::ffff:0:a.b.c.d) spellings,
# which Python's ipaddress counts as global whatever IPv4 address they carry.
_V4_COMPATIBLE = ipaddress.ip_network("::/96")
_V4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


class OutboundRefused(Exception):
    pass


class ResolveFailed(OutboundRefused):
    """The host has no address right now: a DNS failure, worth trying again later."""


@dataclass(frozen=True)
class Target:
    """A checked URL: connect to `addresses` (every one checked) and nowhere else."""

    host: str
    port: int
    addresses: tuple[Address, ...]


@dataclass(frozen=True)
class _Rule:
    host: str | None
    network: Network | None
    ports: frozenset[int] | None  # None: any port

    def allows_port(self, port: int) -> bool:
        return self.ports is None or port in self.ports


def _parse_entry(entry: str) -> _Rule:
    text = entry.strip().lower()
    port_text: str | None = None
    if text.startswith("["):  # [IPv6 address or network]:port
        inner, closed, rest = text[1:].partition("]")
        if not closed or (rest and not rest.startswith(":")):
            raise OutboundRefused(f"REVIEWQUEUE_OUTBOUND_ALLOWLIST entry {entry!r} is malformed")
        name, port_text = inner, rest[1:] or None
    elif text.count(":") == 1:  # host:port or IPv4[/len]:port; bare IPv6 has several colons
        name, port_text = text.split(":")
    else:
        name = text
    ports: frozenset[int] | None = DEFAULT_PORTS
    if port_text == "*":
        ports = None
    elif port_text is not None:
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise OutboundRefused(
                f"REVIEWQUEUE_OUTBOUND_ALLOWLIST entry {entry!r}: the port must be 1-65535 or *"
            )
        ports = frozenset({int(port_text)})
    try:
        return _Rule(host=None, network=ipaddress.ip_network(name, strict=False), ports=ports)
    except ValueError:
        return _Rule(host=name, network=None, ports=ports)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 spelling carries, where a packet to it can end up."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in _V4_COMPATIBLE or ip in _V4_TRANSLATED:
        return ipaddress.IPv4Address(int(ip) & 0xFFFF_FFFF)
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    return None


def is_public(ip: Address) -> bool:
    if not ip.is_global or ip.is_multicast:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _NAT64):
            return False
        v4 = _embedded_v4(ip)
        if v4 is not None:
            return is_public(v4)
    return True


def _allowed_by_network(ip: Address, port: int, rules: list[_Rule]) -> bool:
    spellings: list[Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address) and (v4 := _embedded_v4(ip)) is not None:
        spellings.append(v4)
    return any(
        rule.network is not None
        and rule.allows_port(port)
        and any(s in rule.network for s in spellings)
        for rule in rules
    )


def resolve_host(host: str, port: int) -> list[Address]:
    """Every address `host` resolves to, from the system resolver (tests replace this)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[Address] = []
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if ip not in addresses:
            addresses.append(ip)
    return addresses


def _literal(host: str) -> Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _split(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(f"{url!r} is not an http(s) URL")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise OutboundRefused(f"{url!r} has an invalid port") from None
    return parts.hostname.lower(), port


def resolve_target(url: str, allowlist: list[str]) -> Target:
    """Resolve `url`'s host once and check every address; raise OutboundRefused (ResolveFailed
    when DNS has no answer) unless the request may go to all of them."""
    host, port = _split(url)
    rules = [_parse_entry(entry) for entry in allowlist]
    literal = _literal(host)
    if literal is not None:
        addresses = [literal]
    else:
        try:
            addresses = resolve_host(host, port)
        except (OSError, UnicodeError) as exc:
            raise ResolveFailed(f"cannot resolve {host}: {exc}") from None
        if not addresses:
            raise ResolveFailed(f"cannot resolve {host}: no addresses")
        if any(rule.host == host and rule.allows_port(port) for rule in rules):
            return Target(host=host, port=port, addresses=tuple(addresses))
    for ip in addresses:
        if not is_public(ip) and not _allowed_by_network(ip, port, rules):
            what = f"{ip} is" if literal is not None else f"{host} resolves to {ip},"
            spelled = f"[{host}]" if literal is not None and literal.version == 6 else host
            raise OutboundRefused(
                f"{what} a non-public address; to allow it, list it in "
                f"REVIEWQUEUE_OUTBOUND_ALLOWLIST with its port, as in {spelled}:{port} "
                "(an entry without a port allows 80 and 443 only)"
            )
    return Target(host=host, port=port, addresses=tuple(addresses))


def check_url(url: str, allowlist: list[str], *, resolve: bool = True) -> None:
    """Raise OutboundRefused unless `url` may be called. With `resolve`, every address the
    host resolves to must be public or allowed (with the URL's port); without, only an
    address written in the URL is checked."""
    if not resolve and _literal(_split(url)[0]) is None:
        return
    resolve_target(url, allowlist)


def check_peer(peer: str, target: Target) -> None:
    """The socket's remote address must be one that was checked for `target`."""
    try:
        ip = ipaddress.ip_address(peer.split("%", 1)[0])
    except ValueError:
        raise OutboundRefused(f"connected to {peer!r}, not an address") from None
    if ip not in target.addresses:
        raise OutboundRefused(
            f"connected to {ip}, which is not an address checked for {target.host} "
            f"({', '.join(map(str, target.addresses))})"
        )
