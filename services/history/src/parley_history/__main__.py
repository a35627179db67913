"""`python -m parley_history [serve|migrate]`: run the service (default) or only migrate its schema."""

from __future__ import annotations

import sys

from parley_history import __version__
from parley_history.db import migrate
from parley_history.settings import load
from parley_runtime.logs import configure_logging
from parley_runtime.serve import serve
from parley_runtime.settings import SettingsError
from parley_runtime.telemetry import setup_telemetry


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "serve"
    try:
        settings = load()
    except SettingsError as exc:
        print(f"history: {exc}", file=sys.stderr)
        return 2
    configure_logging("history", settings.log_level)
    setup_telemetry("history", __version__)
    if command == "migrate":
        migrate(settings.database_url)
        return 0
    if command != "serve":
        print(f"history: unknown command {command!r} (serve, migrate)", file=sys.stderr)
        return 2
    from parley_history.app import create_app

    serve(create_app(settings), host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
