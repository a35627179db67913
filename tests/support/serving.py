"""A Litestar app served by uvicorn on a free port of this host, lifespan included, for clients outside the test
(a browser, a CLI, a second process) and for races the in-process test client cannot make."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import uvicorn
from litestar import Litestar

from parley_devstack.ports import free_port
from tests.support import eventually, eventually_blocking


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


@contextmanager
def served_in_thread(app: Litestar) -> Iterator[str]:
    """`served`, for a synchronous test: uvicorn runs on a thread of its own, with its own event loop."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"served-{port}", daemon=True)
    thread.start()
    eventually_blocking(lambda: server.started or not thread.is_alive(), what="the server to start")
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
