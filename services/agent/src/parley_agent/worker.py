"""The LiveKit Agents worker: one `rtc_session` entrypoint, explicit dispatch by agent name.

Job processes are started by the framework (forkserver), so the entrypoint and hooks are module-level
functions; their settings travel in one environment variable set by `create_server(settings)` and are
decoded by `prewarm` in each job process (the job process's composition root).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

import msgspec
from livekit.agents import AgentServer, JobContext, JobExecutorType, JobProcess
from livekit.rtc._ffi_client import FfiClient

from parley_agent import job_metrics, speech_recorder, thread_stacks
from parley_agent.call import Call, open_call
from parley_agent.conversation import run_call
from parley_agent.providers import ProviderSet
from parley_agent.redaction.detect import PresidioDetector
from parley_agent.settings import Settings
from parley_runtime import heap

logger = logging.getLogger(__name__)

SETTINGS_ENV = "PARLEY_AGENT_SETTINGS_JSON"
WORKER_PID_ENV = "PARLEY_AGENT_WORKER_PID"  # tells a job process from the worker (thread executor)
# Long enough for calls to end on their own during a rolling deploy; Helm's grace period matches it.
DRAIN_TIMEOUT_SECONDS = 600

_calls: dict[str, Call] = {}
ended_rooms: set[str] = set()  # rooms whose call has ended and persisted its end (what `simulate` waits for)


def _settings(proc: JobProcess) -> Settings:
    settings: Settings = proc.userdata["settings"]
    return settings


def setup_agent_telemetry() -> None:
    """Our tracer provider for livekit-agents too, with prompt and transcript content kept out of spans."""
    from livekit.agents import telemetry as lk_telemetry

    from parley_agent import __version__
    from parley_runtime.observability.telemetry import setup_telemetry

    t = setup_telemetry("agent", __version__)
    lk_telemetry.set_tracer_provider(t.tracer_provider, allow_pii=False)


_livekit_runtime = threading.Lock()


def start_livekit_runtime() -> None:
    """Start LiveKit's native runtime now, once, under a lock.

    livekit-rtc starts it lazily on first use without a lock (`FfiClient.instance`). Calls that start together
    in one process (the thread executor `simulate` runs) first use it from their audio recorders' threads at
    the same moment, start it twice, and the process dies with SIGSEGV. Each job's `prewarm` runs this before
    the job starts, so every later use finds the runtime up.
    """
    with _livekit_runtime:
        FfiClient.instance  # noqa: B018  (the property starts it)


def prewarm(proc: JobProcess) -> None:
    thread_stacks.guard_current_frames()  # before the job's loop monitor can sample a stack
    start_livekit_runtime()
    settings = msgspec.json.decode(os.environ[SETTINGS_ENV], type=Settings)
    setup_agent_telemetry()
    if os.environ.get(WORKER_PID_ENV) != str(os.getpid()):
        # A job process of its own: its metrics reach the worker's /metrics through the state directory.
        job_metrics.start_snapshots(settings.state_path / "metrics")
    proc.userdata["settings"] = settings
    speech_recorder.install()
    proc.userdata["providers"] = ProviderSet.load(settings)
    if settings.redact_types:
        PresidioDetector.shared().warm()  # its first e-mail check reads the bundled suffix list: not mid-call
    heap.settle()  # models and providers are loaded: no full collection walks them during a call


async def entrypoint(ctx: JobContext) -> None:
    settings = _settings(ctx.proc)
    call = open_call(ctx, settings)
    _calls[ctx.job.id] = call

    async def on_shutdown(reason: str) -> None:  # errors and worker shutdown: persist what we have
        await call.finish(reason or "job_shutdown")
        _calls.pop(ctx.job.id, None)
        ended_rooms.add(ctx.job.room.name)

    ctx.add_shutdown_callback(on_shutdown)
    await run_call(call, ctx.proc.userdata["providers"])


async def on_session_end(ctx: JobContext) -> None:
    call = _calls.pop(ctx.job.id, None)
    if call is not None:
        await call.finish()
        ended_rooms.add(ctx.job.room.name)


def create_server(settings: Settings, *, simulate: bool = False) -> AgentServer:
    """The worker. `simulate=True` runs jobs in threads with no LiveKit connection (fake jobs)."""
    thread_stacks.guard_current_frames()  # the worker's own loop monitor samples stacks too
    os.environ[SETTINGS_ENV] = msgspec.json.encode(settings).decode()
    os.environ[WORKER_PID_ENV] = str(os.getpid())
    kwargs: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,  # the worker's built-in health server; ours (health.py) owns settings.port
        "drain_timeout": DRAIN_TIMEOUT_SECONDS,
        "setup_fnc": prewarm,
    }
    if simulate:
        kwargs["job_executor_type"] = JobExecutorType.THREAD
    else:
        kwargs.update(
            ws_url=settings.livekit_url,
            api_key=settings.livekit_api_key,
            api_secret=settings.livekit_api_secret,
            load_threshold=settings.load_threshold,
            job_memory_warn_mb=settings.job_memory_warn_mb,
            job_memory_limit_mb=settings.job_memory_limit_mb,
        )
        if settings.idle_processes is not None:
            kwargs["num_idle_processes"] = settings.idle_processes
    server = AgentServer(**kwargs)
    server.rtc_session(agent_name=settings.agent_name, on_session_end=on_session_end)(entrypoint)
    return server
