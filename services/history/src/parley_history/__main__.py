"""`python -m parley_history [serve|migrate|retention]`.

serve       run the service (default)
migrate     migrate its schema and exit
retention   delete transcripts older than HISTORY_RETENTION_DAYS and exit (the service also does it hourly)
"""

from __future__ import annotations

import sys
from functools import partial

from litestar import Litestar

from parley_history import __version__
from parley_history.db import make_engine, migrate
from parley_history.retention import purge_expired
from parley_history.settings import Settings, load
from parley_runtime.db import run_once
from parley_runtime.web.serve import service_main


def _app(settings: Settings) -> Litestar:
    from parley_history.app import create_app

    return create_app(settings)


def _retention(settings: Settings) -> int:
    purge = partial(purge_expired, days=settings.retention_days)
    p = run_once(partial(make_engine, settings.database_url, pool_size=1), purge)
    print(
        f"purged {p.conversations} conversations, {p.sessions} sessions and {p.turns} turns"
        f" older than {settings.retention_days} days"
    )
    return 0


def _migrate(settings: Settings) -> int:
    migrate(settings.database_url)
    return 0


if __name__ == "__main__":
    commands = {"migrate": _migrate, "retention": _retention}
    sys.exit(service_main("history", __version__, sys.argv, load=load, app=_app, commands=commands))
