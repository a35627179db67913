"""Process entry points of the HTTP services: load settings, set up logs and telemetry, serve.

python -m parley_<service> [serve|check|migrate|...]

`check` needs no settings: it imports every module of the service's package (what the image build runs, so a
missing dependency fails the build rather than a pod).
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar

import uvicorn
from litestar import Litestar

from parley_runtime import heap
from parley_runtime.observability.logs import configure_logging
from parley_runtime.observability.telemetry import setup_telemetry
from parley_runtime.settings import SettingsError


class Served(Protocol):
    """What serving needs of a service's settings."""

    @property
    def host(self) -> str: ...

    @property
    def port(self) -> int: ...

    @property
    def log_level(self) -> str: ...


S = TypeVar("S", bound=Served)


def uvicorn_config(app: Litestar, *, host: str, port: int) -> uvicorn.Config:
    """How every service serves HTTP: uvloop, httptools, graceful shutdown, our own logging."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_config=None,  # keep our JSON logging
        access_log=False,
        lifespan="on",
        loop="auto",  # uvloop (a runtime dependency), which also runs the service's NATS consumer
        http="auto",  # httptools (a runtime dependency) rather than the pure-Python h11
        timeout_graceful_shutdown=20,
        proxy_headers=True,
    )


def serve(app: Litestar, *, host: str, port: int) -> None:
    """Run with uvicorn, shutting down gracefully on SIGTERM/SIGINT."""
    uvicorn.Server(uvicorn_config(app, host=host, port=port)).run()


def service_main(
    name: str,
    version: str,
    argv: list[str],
    *,
    load: Callable[[], S],
    app: Callable[[S], Litestar],
    commands: Mapping[str, Callable[[S], int]],
) -> int:
    """`serve` (the default), `check`, or one of `commands`; a bad setting exits 2 naming the variable."""
    command = argv[1] if len(argv) > 1 else "serve"
    if command == "check":
        return import_all(f"parley_{name}")
    try:
        settings = load()
    except SettingsError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    configure_logging(name, settings.log_level)
    if command == "serve":
        setup_telemetry(name, version)
        built = app(settings)
        heap.settle()  # everything so far lives as long as the process
        serve(built, host=settings.host, port=settings.port)
        return 0
    if command in commands:
        return commands[command](settings)
    known = ", ".join(["serve", "check", *commands])
    print(f"{name}: unknown command {command!r} ({known})", file=sys.stderr)
    return 2


def import_all(package: str) -> int:
    """Import every module of `package` (its migrations aside, which Alembic loads itself); 0 when all did."""
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, f"{package}."):
        if ".migrations" not in module.name:
            importlib.import_module(module.name)
    print(f"{package}: every module imports")
    return 0
