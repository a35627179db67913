"""`python -m parley_history [serve|migrate|retention]`.

serve       run the service (default)
migrate     migrate its schema and exit
retention   delete transcripts older than HISTORY_RETENTION_DAYS and exit (the service also does it hourly)
"""

from __future__ import annotations

import asyncio
import sys

from litestar import Litestar

from parley_history import __version__
from parley_history.db import make_engine, migrate
from parley_history.retention import Purged, purge_expired
from parley_history.settings import Settings, load
from parley_runtime.serve import service_main


def _app(settings: Settings) -> Litestar:
    from parley_history.app import create_app

    return create_app(settings)


async def _purge(settings: Settings) -> Purged:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        return await purge_expired(engine, days=settings.retention_days)
    finally:
        await engine.dispose()


def _retention(settings: Settings) -> int:
    p = asyncio.run(_purge(settings))
    print(
        f"purged {p.conversations} conversations, {p.sessions} sessions and {p.turns} turns"
        f" older than {settings.retention_days} days"
    )
    return 0


def _migrate(settings: Settings) -> int:
    migrate(settings.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(
        service_main(
            "history",
            __version__,
            sys.argv,
            load=load,
            app=_app,
            commands={"migrate": _migrate, "retention": _retention},
        )
    )
