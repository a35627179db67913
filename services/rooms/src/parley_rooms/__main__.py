"""`python -m parley_rooms [serve|migrate]`: run the service (default) or only migrate its schema."""

from __future__ import annotations

import sys

from litestar import Litestar

from parley_rooms import __version__
from parley_rooms.db import migrate
from parley_rooms.settings import Settings, load
from parley_runtime.serve import service_main


def _app(settings: Settings) -> Litestar:
    from parley_rooms.app import create_app

    return create_app(settings)


def _migrate(settings: Settings) -> int:
    migrate(settings.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(service_main("rooms", __version__, sys.argv, load=load, app=_app, commands={"migrate": _migrate}))
