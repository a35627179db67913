"""`python -m parley_recordings [serve|migrate|retention]`.

serve       run the service (default)
migrate     migrate the `recordings` schema and exit
retention   delete recordings older than RECORDINGS_RETENTION_DAYS (blobs and rows) and exit
"""

from __future__ import annotations

import asyncio
import sys

from parley_recordings import __version__
from parley_recordings.blobs import open_blob_store
from parley_recordings.db import make_engine, migrate
from parley_recordings.repo import RecordingRepo
from parley_recordings.retention import purge_expired
from parley_recordings.settings import Settings, load
from parley_runtime.logs import configure_logging
from parley_runtime.serve import serve
from parley_runtime.settings import SettingsError
from parley_runtime.telemetry import setup_telemetry


async def run_retention(settings: Settings) -> int:
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        purged = await purge_expired(RecordingRepo(engine), open_blob_store(settings), days=settings.retention_days)
    finally:
        await engine.dispose()
    print(f"purged {purged} recordings older than {settings.retention_days} days")
    return 0


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    try:
        settings = load()
    except SettingsError as exc:
        print(f"recordings: {exc}", file=sys.stderr)
        return 2
    configure_logging("recordings", settings.log_level)
    setup_telemetry("recordings", __version__)
    if command == "migrate":
        migrate(settings.database_url)
        return 0
    if command == "retention":
        return asyncio.run(run_retention(settings))
    if command != "serve":
        print(f"recordings: unknown command {command!r} (serve, migrate, retention)", file=sys.stderr)
        return 2
    from parley_recordings.app import create_app

    serve(create_app(settings), host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
