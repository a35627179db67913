"""Three real JetStream servers routed into one cluster on 127.0.0.1, for R3 streams and failover tests.

Each node keeps its client port, route port, name and store across restarts, so a node that is killed and
started again rejoins as itself and catches up from its peers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import nats
from nats.js import JetStreamContext
from nats.js.errors import APIError, ServiceUnavailableError

from parley_devstack.nats_server import NatsServer
from parley_devstack.ports import free_port

T = TypeVar("T")


class NatsCluster:
    def __init__(self, root: Path, *, size: int = 3, log_dir: Path | None = None) -> None:
        route_ports = [free_port() for _ in range(size)]
        self.nodes = [
            NatsServer(
                root / f"node{i}",
                log_path=log_dir / f"nats-node{i}.log" if log_dir else None,
                cluster_port=route_ports[i],
                routes=[port for j, port in enumerate(route_ports) if j != i],
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        """Every node, comma-separated, as Parley's `*_NATS_URL` settings take them."""
        return ",".join(node.url for node in self.nodes)

    def node(self, name: str) -> NatsServer:
        return next(node for node in self.nodes if node.name == name)

    def start(self) -> NatsCluster:
        try:
            for node in self.nodes:
                node.start()
        except BaseException:
            self.stop()  # no half-started cluster left running
            raise
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()

    async def wait_ready(self, timeout: float = 30.0) -> None:
        """Until JetStream answers: the nodes found each other and elected a meta leader."""
        await self.ask(lambda js: js.account_info(), timeout)

    async def leader(self, stream: str, consumer: str | None = None, timeout: float = 30.0) -> NatsServer:
        """The node leading `stream` (or its `consumer`), once the cluster has elected one."""

        async def leader_of(js: JetStreamContext) -> str:
            info = await (js.consumer_info(stream, consumer) if consumer else js.stream_info(stream))
            if info.cluster is None or not info.cluster.leader:
                raise ServiceUnavailableError  # between leaders
            return info.cluster.leader

        return self.node(await self.ask(leader_of, timeout))

    async def ask(self, call: Callable[[JetStreamContext], Awaitable[T]], timeout: float = 30.0) -> T:
        """`call` through any live node, again and again while the cluster has no leader to answer it."""
        deadline = time.monotonic() + timeout
        nc = await nats.connect(servers=[node.url for node in self.nodes if node.process is not None])
        try:
            while True:
                try:
                    return await call(nc.jetstream())
                except (APIError, ServiceUnavailableError, nats.errors.TimeoutError, nats.errors.NoRespondersError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(0.2)
        finally:
            await nc.close()
