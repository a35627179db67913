"""`python -m parley_recordings`: run the recordings service."""

from __future__ import annotations

import sys

from parley_recordings.app import create_app
from parley_recordings.settings import load
from parley_runtime.logs import configure_logging
from parley_runtime.serve import serve
from parley_runtime.settings import SettingsError


def main() -> int:
    try:
        settings = load()
    except SettingsError as exc:
        print(f"recordings: {exc}", file=sys.stderr)
        return 2
    configure_logging("recordings", settings.log_level)
    serve(create_app(settings), host=settings.host, port=settings.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
