"""`python -m parley_agent [worker|simulate|flush|check]`.

worker (or serve)       register with the LiveKit server and take calls (needs LIVEKIT_URL/KEY/SECRET)
simulate [-n N] [--exit]
                        run N scripted conversations headless through the real job path, then keep
                        serving health (or exit with --exit); what `make dev` runs without LiveKit
flush                   publish events and upload audio that earlier runs left on disk, then exit
check                   import every module and load every model the worker ships, then exit (no settings)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from functools import partial

from livekit.agents import AgentServer
from nats.aio.client import Client

from parley_agent.background import flush_once, housekeeping
from parley_agent.health import HealthServer
from parley_agent.local_voice import installed
from parley_agent.settings import Settings, load
from parley_agent.simulate import (
    SimulatedCall,
    add_simulate_arguments,
    calls_from,
    run_simulated_calls,
    simulation_environment,
    start_simulated_job,
)
from parley_agent.simulate_requests import take_simulation_requests
from parley_agent.worker import DRAIN_TIMEOUT_SECONDS, create_server, setup_agent_telemetry
from parley_runtime.messaging.connection import connect
from parley_runtime.observability.logs import configure_logging
from parley_runtime.settings import SettingsError


async def run(settings: Settings, *, simulate: bool, calls: list[SimulatedCall], exit_after: bool) -> int:
    """The worker (taking calls from LiveKit), or with `simulate` the planned calls through the same job path."""
    server = create_server(settings, simulate=simulate)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    started = asyncio.Event()
    server.once("worker_started", started.set)
    serving = asyncio.create_task(server.run(devmode=simulate, unregistered=simulate))
    connection: asyncio.Future[Client] = loop.create_future()
    status = 0
    requests: asyncio.Task[None] | None = None
    chores = asyncio.create_task(housekeeping(settings, stop, connection))
    health = HealthServer(
        settings.host,
        settings.port,
        lambda: connection.done() and connection.result().is_connected,
        settings.state_path / "metrics",
        settings.metrics_key_list,
    )
    await health.start()
    await asyncio.wait([asyncio.create_task(started.wait()), serving], return_when=asyncio.FIRST_COMPLETED)
    try:
        if simulate and not exit_after:  # calls started from the console, while no LiveKit server runs
            requests = asyncio.create_task(serve_simulation_requests(server, connection, stop))
        if simulate and calls:
            ended = await run_simulated_calls(server, calls)
            for call in ended:  # each call has ended and its events are published (or kept on disk)
                print(f"conversation {call.conversation_id}", flush=True)
            failed = len(calls) - len(ended)
            if failed:
                print(f"agent: {failed} of {len(calls)} calls failed before they began (see the log)", file=sys.stderr)
                status = 1
        if not (simulate and exit_after):
            waiter = asyncio.create_task(stop.wait())
            await asyncio.wait([waiter, serving], return_when=asyncio.FIRST_COMPLETED)
    finally:
        if not simulate:
            # SIGTERM in a rollout: stop taking calls, let the ones in progress end (up to the drain timeout;
            # the chart's grace period is longer), then close. Every call persists on its own way out.
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await server.drain(DRAIN_TIMEOUT_SECONDS)
        await server.aclose()
        stop.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(chores, timeout=10)
        if requests is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(requests, timeout=5)
        if not serving.done():
            serving.cancel()
        await health.stop()
    return status


async def serve_simulation_requests(
    server: AgentServer, connection: asyncio.Future[Client], stop: asyncio.Event
) -> None:
    """Takes `agent.v1.simulate` on housekeeping's connection, once it is made, until `stop` (which closes it)."""
    nc = await connection
    subscription = await take_simulation_requests(nc, partial(start_simulated_job, server))
    try:
        await stop.wait()
    finally:
        if nc.is_connected:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()


async def flush(settings: Settings) -> int:
    try:
        nc = await connect(settings.nats, name="agent-flush")
    except ConnectionError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 1
    try:
        await flush_once(nc, settings)
    finally:
        await nc.close()
    return 0


def check() -> int:
    """What the image build runs: every module imports, every plugin and model loads, offline."""
    from livekit.agents import inference
    from livekit.plugins import silero

    from parley_agent.local_voice import LocalModels
    from parley_runtime.web.serve import import_all

    silero.VAD.load()
    inference.TurnDetector(version="v1-mini")
    if installed():
        LocalModels.load()
    return import_all("parley_agent")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="parley_agent", description="Parley's LiveKit Agents worker")
    sub = parser.add_subparsers(dest="command")
    sub.add_parser("worker", help="take calls from the LiveKit server")
    sub.add_parser("serve", help="the same as worker (what the image runs)")
    sub.add_parser("check", help="import everything and load every model, then exit")
    add_simulate_arguments(sub.add_parser("simulate", help="run simulated calls headless, typed or spoken"))
    sub.add_parser("flush", help="publish what earlier runs left on disk, then exit")
    args = parser.parse_args(argv)
    command = {None: "worker", "serve": "worker"}.get(args.command, args.command)
    if command == "check":
        return check()
    try:
        settings = load(simulation_environment(args) if command == "simulate" else None)
        if command == "worker":
            settings.require_livekit()
        if settings.providers == "local" and not installed():
            raise SettingsError(
                "AGENT_PROVIDERS=local needs the agent's local voice: install parley-agent[local]"
                ' (an image built with --build-arg EXTRAS="--extra local")'
            )
    except SettingsError as exc:
        print(f"agent: {exc}", file=sys.stderr)
        return 2
    configure_logging("agent", settings.log_level)
    if command != "flush" and not settings.metrics_keys.strip():  # flush serves nothing
        logging.getLogger("parley_agent").warning("AGENT_METRICS_KEYS is not set: /metrics refuses every scrape")
    setup_agent_telemetry()
    if command == "flush":
        return asyncio.run(flush(settings))
    simulate = command == "simulate"
    calls = calls_from(args) if simulate else []
    return asyncio.run(run(settings, simulate=simulate, calls=calls, exit_after=getattr(args, "exit", False)))


if __name__ == "__main__":
    sys.exit(main())
