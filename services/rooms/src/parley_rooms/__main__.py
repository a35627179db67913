"""`python -m parley_rooms [serve|migrate|retention]`.

serve       run the service (default)
migrate     migrate its schema and exit
retention   one housekeeping pass (old receipts and keys; rooms idle longer than ROOMS_RETENTION_DAYS) and
            exit; the service also runs one hourly
"""

from __future__ import annotations

import sys
from functools import partial

from litestar import Litestar

from parley_rooms import __version__
from parley_rooms.db import make_engine, migrate
from parley_rooms.retention import housekeep
from parley_rooms.settings import Settings, load
from parley_runtime.db import run_once
from parley_runtime.web.serve import service_main


def _app(settings: Settings) -> Litestar:
    from parley_rooms.app import create_app

    return create_app(settings)


def _retention(settings: Settings) -> int:
    tidy = partial(housekeep, retention_days=settings.retention_days, key_hours=settings.idempotency_key_hours)
    done = run_once(partial(make_engine, settings.database_url, pool_size=1), tidy)
    print(
        f"deleted {done.rooms} rooms, {done.sessions} agent sessions without a room, {done.receipts} webhook"
        f" receipts and {done.keys} idempotency keys"
    )
    return 0


def _migrate(settings: Settings) -> int:
    migrate(settings.database_url)
    return 0


if __name__ == "__main__":
    commands = {"migrate": _migrate, "retention": _retention}
    sys.exit(service_main("rooms", __version__, sys.argv, load=load, app=_app, commands=commands))
