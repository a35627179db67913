"""`python -m parley_rooms`: run the rooms service."""

from __future__ import annotations

import sys

from parley_rooms.app import create_app
from parley_rooms.settings import load
from parley_runtime.logs import configure_logging
from parley_runtime.serve import serve
from parley_runtime.settings import SettingsError


def main() -> int:
    try:
        settings = load()
    except SettingsError as exc:
        print(f"rooms: {exc}", file=sys.stderr)
        return 2
    configure_logging("rooms", settings.log_level)
    serve(create_app(settings), host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
