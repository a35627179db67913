"""Composition root of the recordings service (a skeleton until its issue lands: health only)."""

from __future__ import annotations

from litestar import Litestar

from parley_recordings.settings import Settings
from parley_runtime.http import health_handlers, problem_details_plugin


def create_app(settings: Settings) -> Litestar:
    return Litestar(route_handlers=health_handlers({}), plugins=[problem_details_plugin()], logging_config=None)
