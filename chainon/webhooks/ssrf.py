"""Where a webhook may not go: the deployment's own network.

Checked when an endpoint is saved and again, after resolving the name, before each
delivery (a name that resolved to a public address yesterday may point inside today).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from domain.errors import InvalidInput


class Refused(Exception):
    """The URL leads to an address a webhook may not reach."""


def forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


async def resolved(url: str) -> list[str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


async def check(url: str, *, allow_private: bool, unresolved_ok: bool = False) -> None:
    """Raises ``Refused`` when any address the name resolves to is internal (or, unless
    ``unresolved_ok``, when it resolves to nothing)."""
    if allow_private:
        return
    try:
        addresses = await resolved(url)
    except OSError as exc:
        if unresolved_ok:
            return
        raise Refused(f"cannot resolve: {exc}") from None
    inside = [a for a in addresses if forbidden(a)]
    if inside:
        raise Refused(f"resolves to a private address ({inside[0]})")


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
