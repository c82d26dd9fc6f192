"""Where a webhook may not go: the deployment's own network.

Checked when an endpoint is saved and again, after resolving the name, before each
delivery (a name that resolved to a public address yesterday may point inside today).
A delivery resolves the name once and connects to the address it checked: letting the
HTTP client resolve it again would let a rebinding DNS server answer a public address to
the check and a private one to the connection. The name still goes in the ``Host`` header
and, over TLS, in the SNI and the certificate check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from chainon.domain.errors import InvalidInput

Resolve = Callable[[str, int], Awaitable[list[str]]]  # host, port → addresses


class Refused(Exception):
    """The URL leads to an address a webhook may not reach."""


# NAT64's well-known prefix (RFC 6052): a gateway hands the last 32 bits on as IPv4.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def forbidden(address: str) -> bool:
    """Anything not on the public internet (not ``is_global``: private, loopback,
    link-local, shared 100.64/10, documentation, benchmarking, reserved…) or multicast.
    An IPv6 address carrying an IPv4 one (mapped ``::ffff:…``, 6to4 ``2002::/16``, NAT64)
    is judged by that one as well: it is where the packets end up."""
    ip = ipaddress.ip_address(address)
    if not ip.is_global or ip.is_multicast:
        return True
    return any(forbidden(str(inner)) for inner in _embedded(ip))


def _embedded(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    found = [inner for inner in (ip.ipv4_mapped, ip.sixtofour) if inner is not None]
    if ip in NAT64:
        found.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return found


async def resolve(host: str, port: int) -> list[str]:
    """The addresses of ``host`` in the system's order of preference."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _port(url: str) -> int:
    parts = urlsplit(url)
    return parts.port or (443 if parts.scheme == "https" else 80)


def _checked(addresses: list[str], allow_private: bool) -> list[str]:
    if not addresses:
        raise Refused("resolves to no address")
    inside = [a for a in addresses if forbidden(a)]
    if inside and not allow_private:
        raise Refused(f"resolves to a private address ({inside[0]})")
    return addresses


async def check(
    url: str, *, allow_private: bool, unresolved_ok: bool = False, resolve: Resolve = resolve
) -> None:
    """Raises ``Refused`` when any address the name resolves to is internal (or, unless
    ``unresolved_ok``, when it resolves to nothing)."""
    if allow_private:
        return
    try:
        addresses = await resolve(urlsplit(url).hostname or "", _port(url))
    except OSError as exc:
        if unresolved_ok:
            return
        raise Refused(f"cannot resolve: {exc}") from None
    _checked(addresses, allow_private)


@dataclass(frozen=True)
class Pinned:
    """A request's target once its name was resolved and checked."""

    url: str  # the checked address in place of the name
    host: str  # the name: SNI and the certificate's check
    host_header: str  # the name and any explicit port, as the receiver expects it


async def pinned(url: str, *, allow_private: bool, resolve: Resolve = resolve) -> Pinned:
    """Resolves ``url``'s name once and checks every address it gives (any private one
    refuses the URL, as a round-robin answer could hand out either); the first is used.
    ``allow_private`` lets private addresses (and plain ``http``) through but still pins.
    The scheme is checked again too: an ``http`` URL saved while private addresses were
    allowed must not keep going out in clear once they are not."""
    parts = urlsplit(url)
    if parts.scheme != "https" and not allow_private:  # saved while the setting was on
        raise Refused(f"{parts.scheme} is refused: https only, unless private ones are allowed")
    host = parts.hostname or ""
    try:
        addresses = _checked(await resolve(host, _port(url)), allow_private)
    except OSError as exc:
        raise Refused(f"cannot resolve: {exc}") from None
    address = addresses[0]
    netloc = f"[{address}]" if ":" in address else address
    if parts.port is not None:
        netloc += f":{parts.port}"
    return Pinned(
        url=urlunsplit(parts._replace(netloc=netloc)),
        host=host,
        host_header=parts.netloc.rpartition("@")[2],
    )


async def check_input(url: str, *, allow_private: bool) -> None:
    """``check`` for an endpoint being saved: a 422 naming ``url``. A name that does not
    resolve yet is taken (its receiver may come later): each delivery checks again."""
    try:
        await check(url, allow_private=allow_private, unresolved_ok=True)
    except Refused as exc:
        raise InvalidInput(
            f"{exc}; loopback, link-local and private addresses are refused unless "
            "CHAINON_WEBHOOKS_ALLOW_PRIVATE=true",
            field="url",
        ) from None
