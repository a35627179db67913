"""The agent's own HTTP surface on its health port: `/health` (and `/`), `/ready`, `/metrics`.

The LiveKit worker's built-in server only knows the LiveKit connection; this one also answers for
NATS, and exposes the same Prometheus metrics as the other services, those of its job processes included.
`/metrics` needs a scrape key (`AGENT_METRICS_KEYS`), as the other services' does; with none configured
it refuses every request rather than serve without one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from parley_agent import __version__
from parley_agent.job_metrics import merged_text
from parley_runtime.observability.telemetry import PROMETHEUS_CONTENT_TYPE
from parley_runtime.web.keys import bearer_matches, encode_keys


def _problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    return web.json_response(body, status=status, content_type="application/problem+json", headers=headers)


@web.middleware
async def _problems(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp's own 4xx answers (an unknown path, a method a path does not take) as problem details, like
    every other Parley HTTP error."""
    try:
        return await handler(request)
    except web.HTTPClientError as exc:
        allow = {k: v for k, v in exc.headers.items() if k == "Allow"}
        return _problem(exc.status, exc.reason, exc.reason, allow)


class HealthServer:
    def __init__(
        self,
        host: str,
        port: int,
        ready: Callable[[], bool],
        metrics_dir: Path | None = None,
        metrics_keys: list[str] | None = None,
    ) -> None:
        self.host, self.port, self.ready = host, port, ready
        self.metrics_dir = metrics_dir  # where job processes leave their metrics (`job_metrics`)
        self._metrics_keys = encode_keys(metrics_keys or [])
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application(middlewares=[_problems])

        async def health(_: web.Request) -> web.Response:
            return web.json_response({"status": "ok", "version": __version__})

        async def ready(_: web.Request) -> web.Response:
            ok = self.ready()
            return web.json_response(
                {"status": "ready" if ok else "unavailable", "checks": {"nats": ok}}, status=200 if ok else 503
            )

        async def metrics(request: web.Request) -> web.Response:
            if not bearer_matches(request.headers.get("Authorization", ""), self._metrics_keys):
                detail = "missing or invalid metrics key" if self._metrics_keys else "AGENT_METRICS_KEYS is not set"
                return _problem(401, "Unauthorized", detail, {"WWW-Authenticate": 'Bearer realm="parley"'})
            body = merged_text(self.metrics_dir)
            return web.Response(body=body, headers={"Content-Type": PROMETHEUS_CONTENT_TYPE})

        app.add_routes(
            [web.get("/", health), web.get("/health", health), web.get("/ready", ready), web.get("/metrics", metrics)]
        )
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
