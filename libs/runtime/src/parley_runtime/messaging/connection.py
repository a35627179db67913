"""Connect to NATS with options that are safe for long-running services.

Bounded connect (nats-py can hang forever on a TLS mismatch), reconnect forever (the default gives up
after about two minutes and closes the client), a fast ping so a dead TCP connection is noticed in
seconds, and every connection error surfaced to the log and to a metric.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
import nats
from nats.aio.client import Client

from parley_runtime.observability import metrics

logger = logging.getLogger(__name__)


class NatsSettings(msgspec.Struct, frozen=True, kw_only=True):
    """How to reach NATS. Comma-separated URLs for a cluster; credentials optional."""

    url: str = "nats://127.0.0.1:4222"
    user: str | None = None
    password: str | None = None
    creds_file: str | None = None
    tls_ca_file: str | None = None
    connect_timeout: float = 5.0

    @property
    def servers(self) -> list[str]:
        return [u.strip() for u in self.url.split(",") if u.strip()]


async def connect(
    settings: NatsSettings,
    *,
    name: str,
    on_reconnected: Callable[[], Awaitable[None]] | None = None,
    retry_initial: bool = False,
) -> Client:
    """Open a NATS connection.

    Args:
        settings: where and how to connect.
        name: the client name shown by the server (service name).
        on_reconnected: awaited after each reconnect.
        retry_initial: keep trying until a server answers (for producers that must start without NATS);
            otherwise the first connect fails after `settings.connect_timeout`.
    """

    async def error_cb(exc: Exception) -> None:
        metrics.NATS_ERRORS.add(1, {"client": name})
        logger.warning("nats error", extra={"client": name, "error": str(exc) or type(exc).__name__})

    holder: list[Client] = []

    async def disconnected_cb() -> None:
        if holder and (holder[0].is_closed or holder[0].is_draining):
            return  # our own close, not an outage
        metrics.NATS_DISCONNECTS.add(1, {"client": name})
        logger.warning("nats disconnected", extra={"client": name})

    async def reconnected_cb() -> None:
        logger.info("nats reconnected", extra={"client": name})
        if on_reconnected is not None:
            await on_reconnected()

    tls = ssl.create_default_context(cafile=settings.tls_ca_file) if settings.tls_ca_file else None
    options: dict[str, Any] = {
        "servers": settings.servers,
        "name": name,
        "max_reconnect_attempts": -1,
        "reconnect_time_wait": 0.5,
        "ping_interval": 10,
        "max_outstanding_pings": 3,
        "connect_timeout": min(2.0, settings.connect_timeout),
        "allow_reconnect": True,
        "error_cb": error_cb,
        "disconnected_cb": disconnected_cb,
        "reconnected_cb": reconnected_cb,
    }
    if settings.user:
        options["user"] = settings.user
        options["password"] = settings.password or ""
    if settings.creds_file:
        options["user_credentials"] = settings.creds_file
    if tls is not None:
        options["tls"] = tls
    delay = 0.2
    while True:
        try:
            # A failed first connect must not retry inside nats-py forever (with -1 it would block, and
            # a TLS mismatch can hang it): bound it, and do our own retry when asked to.
            attempt = dict(options, max_reconnect_attempts=1)
            nc = await asyncio.wait_for(nats.connect(**attempt), timeout=settings.connect_timeout)
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            if not retry_initial:
                raise ConnectionError(f"cannot connect to NATS at {settings.url}: {exc!r}") from exc
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)
            continue
        # Once connected, reconnect forever: a NATS restart must never close a service's client.
        nc.options["max_reconnect_attempts"] = -1
        holder.append(nc)
        return nc


async def subscriptions_confirmed(nc: Client) -> None:
    """Return once the server has every subscription this connection has made so far.

    One `flush()` is not enough: nats-py writes a flush's PING straight to the socket, ahead of a SUB still
    in its write buffer, so the PONG can come back before the server has the subscription (seen as "no
    responders" from another connection, about once in 15 tries). By the second round trip the SUB has
    gone out first.
    """
    await nc.flush()
    await nc.flush()
