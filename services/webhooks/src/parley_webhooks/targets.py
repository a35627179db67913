"""Where a webhook may go: not to this platform's own network, checked where the connection is made.

An endpoint's host is resolved when each connection is opened, every address it resolves to is checked, and the
connection goes to the address that was checked: a name that resolves to a public address at registration and
to 127.0.0.1 later (DNS rebinding) is refused then. Refused: loopback, private (RFC 1918, unique local), link
local (cloud metadata at 169.254.169.254 among them), shared (CGNAT), multicast, reserved and unspecified
addresses, unless the deployment allows private targets (`make dev`, where receivers run on 127.0.0.1).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx
from httpcore._backends.auto import AutoBackend

SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not "private" to Python, not public either


class ForbiddenTarget(httpx.TransportError):
    """The endpoint's address is on a network webhooks may not reach."""


def forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
        or ip.is_unspecified or (isinstance(ip, ipaddress.IPv4Address) and ip in SHARED)
    )  # fmt: skip


async def _resolve(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    def __init__(self) -> None:
        self._inner = AutoBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await _resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        refused = [a for a in addresses if forbidden(a)]
        if refused or not addresses:
            raise ForbiddenTarget(f"{host} resolves to {', '.join(refused) or 'nothing'}: not a public address")
        # TLS still names `host` (httpcore passes it as the server name): only the TCP connection uses the address.
        return await self._inner.connect_tcp(addresses[0], port, timeout, local_address, socket_options)

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def transport(*, allow_private: bool, max_connections: int) -> httpx.AsyncHTTPTransport:
    """An httpx transport that refuses forbidden addresses (unless `allow_private`), at every connect."""
    limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
    made = httpx.AsyncHTTPTransport(limits=limits, retries=0)
    if not allow_private:
        # httpx has no public hook for the network backend: its pool is replaced with one that has ours.
        made._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), max_connections=max_connections,
            max_keepalive_connections=max_connections, keepalive_expiry=5.0, retries=0,
            network_backend=_GuardedBackend(),
        )  # fmt: skip
    return made


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """Why an endpoint URL cannot be registered, at once (a literal forbidden address, a bad scheme), or None.
    A name is only checked when a connection is made, as its addresses may change."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"not a URL: {exc}"
    if parsed.scheme not in ("https", "http") or not parsed.host:
        return "an endpoint is an http:// or https:// URL with a host"
    if parsed.userinfo:
        return "an endpoint URL carries no credentials (they would be sent with every delivery)"
    if allow_private:
        return None
    try:
        literal = forbidden(parsed.host)
    except ValueError:
        return None  # a name
    return f"{parsed.host} is not a public address" if literal else None
