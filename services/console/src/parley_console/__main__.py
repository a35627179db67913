"""`python -m parley_console [serve|check]`.

serve       run the console (default)
check       import every module and find the built web app, then exit
"""

from __future__ import annotations

import sys

from litestar import Litestar

from parley_console import __version__
from parley_console.settings import Settings, load
from parley_runtime.web.serve import import_all, service_main


def check() -> int:
    """What the image build runs: every module imports and the web app is built into the package."""
    from parley_console.web import STATIC, built

    if not built():
        print(f"console: the web app is not built into {STATIC} (make console)", file=sys.stderr)
        return 1
    return import_all("parley_console")


def _app(settings: Settings) -> Litestar:
    from parley_console.app import create_app

    return create_app(settings)


if __name__ == "__main__":
    if sys.argv[1:2] == ["check"]:
        sys.exit(check())
    sys.exit(service_main("console", __version__, sys.argv, load=load, app=_app, commands={}))
