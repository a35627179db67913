"""`python -m parley_insights [serve|check]`.

serve       run the service (default): analyse each session that ends, serve the API to analyse one again
check       import every module, then exit
"""

from __future__ import annotations

import sys

from litestar import Litestar

from parley_insights import __version__
from parley_insights.settings import Settings, load
from parley_runtime.web.serve import service_main


def _app(settings: Settings) -> Litestar:
    from parley_insights.app import create_app

    return create_app(settings)


if __name__ == "__main__":
    sys.exit(service_main("insights", __version__, sys.argv, load=load, app=_app, commands={}))
