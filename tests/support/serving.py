"""A Litestar app served by uvicorn on a free port of this host, lifespan included, for clients outside the test
(a browser, a CLI, a second process) and for races the in-process test client cannot make."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import uvicorn
from litestar import Litestar

from parley_devstack.ports import free_port
from tests.support import eventually


@asynccontextmanager
async def served(app: Litestar) -> AsyncIterator[str]:
    """Yields the app's base URL while uvicorn serves it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started or task.done(), what="the server to start")
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
