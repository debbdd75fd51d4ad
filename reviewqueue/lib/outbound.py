"""Which URLs webhooks and callbacks may reach. Loopback, private, link-local and other
non-public addresses are refused unless REVIEWQUEUE_OUTBOUND_ALLOWLIST lists the host or a
CIDR containing the address. Checked when configured and again at send time, after DNS."""

import ipaddress
import socket
from urllib.parse import urlsplit


class OutboundRefused(Exception):
    pass


def _allowed_networks(
    allowlist: list[str],
) -> tuple[set[str], list[ipaddress.IPv4Network | ipaddress.IPv6Network]]:
    hosts: set[str] = set()
    networks = []
    for entry in allowlist:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return hosts, networks


def _is_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return ip.is_global and not ip.is_multicast


def check_url(url: str, allowlist: list[str], *, resolve: bool = True) -> None:
    """Raise OutboundRefused unless `url` may be called. With `resolve`, every address the
    host resolves to must be public or inside the allowlist."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OutboundRefused(f"{url!r} is not an http(s) URL")
    host = parts.hostname.lower()
    hosts, networks = _allowed_networks(allowlist)
    if host in hosts:
        return
    try:
        literal = ipaddress.ip_address(host)
        addresses = [literal]
    except ValueError:
        if not resolve:
            return
        try:
            infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
        except OSError as exc:
            raise OutboundRefused(f"cannot resolve {host}: {exc}") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    for ip in addresses:
        if _is_public(ip) or any(ip in net for net in networks):
            continue
        raise OutboundRefused(
            f"{host} resolves to {ip}, a non-public address; add it to REVIEWQUEUE_OUTBOUND_ALLOWLIST to allow it"
        )
