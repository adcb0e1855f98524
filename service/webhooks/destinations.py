"""User-supplied URLs (webhook endpoints, statusCallbacks): which ones we agree to call.

A URL must be https with a host name or a public address. Its host is resolved and every
address it resolves to must be public: private, loopback, link-local (cloud metadata),
multicast, reserved and unspecified addresses are refused, so a tenant cannot make the
service call into its own network. Loopback (and plain http to it) is allowed only when the
settings say so (development and test). The check runs when a URL is stored and again before
every delivery, since a name may resolve elsewhere later; and the client that delivers checks
the addresses it connects to (PublicAddressesOnly), so a name that resolves to a public
address for the check and to a private one a moment later (DNS rebinding) is still refused.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from schemas.webhooks import MAX_URL_LENGTH

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
# A name that takes longer than this to resolve is refused rather than waited on.
RESOLVE_TIMEOUT_S = 5.0
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})
# A DNS name as it goes on the wire (IDNA names in their xn-- form).
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
)


class RefusedDestination(Exception):
    """The URL is not one we call."""


class RefusedAddress(OSError):
    """A name resolved, when connecting, to an address we never call."""


def _refusal(address: IPAddress, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_loopback:
        return None if allow_loopback else "loopback address"
    if address.is_link_local:
        return "link-local address"
    if (
        address.is_private
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    ):
        return "private or reserved address"
    return None


class PublicAddressesOnly(AbstractResolver):
    """aiohttp's resolver, refusing a name when any address it resolves to is one we never
    call: what is checked is what the connection is made to. (An address literal in a URL
    does not come here; check_url refuses those.)"""

    def __init__(self, *, allow_loopback: bool) -> None:
        self._allow_loopback = allow_loopback
        self._resolver: AbstractResolver | None = None  # made in the loop that first needs it

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        if self._resolver is None:
            self._resolver = aiohttp.DefaultResolver()
        results = await self._resolver.resolve(host, port, family)
        for result in results:
            address = ipaddress.ip_address(result["host"].split("%", 1)[0])
            reason = _refusal(address, self._allow_loopback)
            if reason:
                raise RefusedAddress(f"refused: {host} resolves to a {reason}")
        return results

    async def close(self) -> None:
        if self._resolver is not None:
            await self._resolver.close()


def check_url(url: str, *, allow_loopback: bool) -> tuple[str, int]:
    """The host and port of an acceptable URL, before resolution; raises RefusedDestination."""
    if len(url) > MAX_URL_LENGTH:
        raise RefusedDestination(f"URL longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise RefusedDestination("not a valid URL") from exc
    try:
        host = (parts.hostname or "").rstrip(".").lower().encode("idna").decode("ascii")
    except UnicodeError as exc:
        raise RefusedDestination("not a valid host name") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise RefusedDestination("must be an https URL")
    if parts.username or parts.password:
        raise RefusedDestination("credentials in the URL are not allowed")
    loopback = host in LOOPBACK_NAMES
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        reason = _refusal(literal, allow_loopback)
        if reason:
            raise RefusedDestination(f"refused: {reason}")
        loopback = literal.is_loopback
    elif not _HOST_NAME.match(host):
        raise RefusedDestination("not a valid host name")
    elif loopback and not allow_loopback:
        raise RefusedDestination("refused: loopback address")
    if parts.scheme == "http" and not (loopback and allow_loopback):
        raise RefusedDestination("must be an https URL")
    return host, port or (443 if parts.scheme == "https" else 80)


async def resolve_addresses(host: str, port: int) -> list[IPAddress]:
    """Every address a host resolves to (a literal resolves to itself); [] when it does not."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT_S
        )
    except (OSError, TimeoutError, UnicodeError):
        return []
    return [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]


async def check_destination(url: str, *, allow_loopback: bool, must_resolve: bool) -> None:
    """Refuse a URL that is not https, or whose host resolves to an address we never call.

    must_resolve: a name that does not resolve is refused too (before a delivery); when a URL
    is stored, a name that does not resolve yet is accepted.
    """
    host, port = check_url(url, allow_loopback=allow_loopback)
    addresses = await resolve_addresses(host, port)
    if not addresses and must_resolve:
        raise RefusedDestination(f"the host {host} does not resolve")
    for address in addresses:
        reason = _refusal(address, allow_loopback)
        if reason:
            raise RefusedDestination(f"refused: {host} resolves to a {reason}")
