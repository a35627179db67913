"""`python -m parley_recordings [serve|migrate|retention]`.

serve       run the service (default)
migrate     migrate the `recordings` schema and exit
retention   delete recordings older than RECORDINGS_RETENTION_DAYS (blobs and rows) and exit
"""

from __future__ import annotations

import sys
from functools import partial

from litestar import Litestar
from sqlalchemy.ext.asyncio import AsyncEngine

from parley_recordings import __version__
from parley_recordings.blobs import open_blob_store
from parley_recordings.db import make_engine, migrate
from parley_recordings.repo import RecordingRepo
from parley_recordings.retention import purge_expired
from parley_recordings.settings import Settings, load
from parley_runtime.db import run_once
from parley_runtime.web.serve import service_main


async def _purge(settings: Settings, engine: AsyncEngine) -> int:
    return await purge_expired(RecordingRepo(engine), open_blob_store(settings), days=settings.retention_days)


def _retention(settings: Settings) -> int:
    purged = run_once(partial(make_engine, settings.database_url, pool_size=1), partial(_purge, settings))
    print(f"purged {purged} recordings older than {settings.retention_days} days")
    return 0


def _migrate(settings: Settings) -> int:
    migrate(settings.database_url)
    return 0


def _app(settings: Settings) -> Litestar:
    from parley_recordings.app import create_app

    return create_app(settings)


if __name__ == "__main__":
    commands = {"migrate": _migrate, "retention": _retention}
    sys.exit(service_main("recordings", __version__, sys.argv, load=load, app=_app, commands=commands))
