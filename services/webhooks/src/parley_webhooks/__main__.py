"""`python -m parley_webhooks [serve|migrate|check]`.

serve       run the service (default): the endpoints API, the consumer of VOICE and the dispatcher
migrate     migrate its schema and exit
check       import every module, then exit
"""

from __future__ import annotations

import sys

from litestar import Litestar

from parley_runtime.web.serve import service_main
from parley_webhooks import __version__
from parley_webhooks.db import migrate
from parley_webhooks.settings import Settings, load


def _app(settings: Settings) -> Litestar:
    from parley_webhooks.app import create_app

    return create_app(settings)


def _migrate(settings: Settings) -> int:
    migrate(settings.database_url)
    return 0


if __name__ == "__main__":
    sys.exit(service_main("webhooks", __version__, sys.argv, load=load, app=_app, commands={"migrate": _migrate}))
