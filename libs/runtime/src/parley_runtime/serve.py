"""Run a Litestar app with uvicorn, shutting down gracefully on SIGTERM/SIGINT."""

from __future__ import annotations

import uvicorn
from litestar import Litestar


def serve(app: Litestar, *, host: str, port: int) -> None:
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # keep our JSON logging
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=20,
        proxy_headers=True,
    )
    uvicorn.Server(config).run()
