"""`python -m parley_rooms [serve|migrate|retention]`.

serve       run the service (default)
migrate     migrate its schema and exit
retention   one housekeeping pass (old receipts and keys; rooms idle longer than ROOMS_RETENTION_DAYS) and
            exit; the service also runs one hourly
"""

from __future__ import annotations

import asyncio
import sys

from litestar import Litestar

from parley_rooms import __version__
from parley_rooms.db import make_engine, migrate
from parley_rooms.retention import Housekept, housekeep
from parley_rooms.settings import Settings, load
from parley_runtime.serve import service_main


def _app(settings: Settings) -> Litestar:
    from parley_rooms.app import create_app

    return create_app(settings)


async def _housekeep(settings: Settings) -> Housekept:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        return await housekeep(engine, retention_days=settings.retention_days, key_hours=settings.idempotency_key_hours)
    finally:
        await engine.dispose()


def _retention(settings: Settings) -> int:
    done = asyncio.run(_housekeep(settings))
    print(
        f"deleted {done.rooms} rooms, {done.sessions} agent sessions without a room, {done.receipts} webhook"
        f" receipts and {done.keys} idempotency keys"
    )
    return 0


def _migrate(settings: Settings) -> int:
    migrate(settings.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(
        service_main(
            "rooms",
            __version__,
            sys.argv,
            load=load,
            app=_app,
            commands={"migrate": _migrate, "retention": _retention},
        )
    )
