"""A call's metrics, measured in its job process, show on the worker's /metrics, and leave with the process."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from parley_agent import job_metrics
from parley_agent.health import HealthServer
from parley_devstack.ports import free_port
from parley_runtime import heap
from parley_runtime.observability.telemetry import setup_telemetry
from tests.support import eventually_blocking

SCRAPE = {"Authorization": "Bearer scrape"}  # the worker's AGENT_METRICS_KEYS below

# What a job process does: telemetry as `prewarm` sets it up, a call's metrics, the snapshot thread.
JOB = """
import sys, time
from pathlib import Path
from parley_agent import job_metrics
from parley_runtime.observability import metrics
from parley_runtime.observability.telemetry import setup_telemetry
setup_telemetry("agent", "test")
metrics.TURN_LATENCY.record(1.25, {"stage": "e2e_latency"})
metrics.OUTBOX_DROPPED.add(2)
job_metrics.snapshot(Path(sys.argv[1]))  # the first one before "recorded", so the test finds the file
job_metrics.start_snapshots(Path(sys.argv[1]), interval=0.05)
print("recorded", flush=True)
time.sleep(60)
"""


@pytest.fixture
def job(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    process = subprocess.Popen([sys.executable, "-c", JOB, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "recorded"
    yield process
    process.kill()
    process.wait()


def _samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """A metric's samples by their labels (the OTel scope labels left out)."""
    return {
        tuple(sorted((k, v) for k, v in s.labels.items() if not k.startswith("otel_scope"))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    }


def _scrape_until(port: int, predicate: str, timeout: float = 10) -> str:
    """The worker's /metrics once it holds `predicate` (or as it is after `timeout`, for the caller to judge)."""

    def scrape() -> str:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", headers=SCRAPE).text

    def holding() -> str | None:
        text = scrape()
        return text if predicate in text else None

    try:
        return eventually_blocking(holding, timeout=timeout, interval=0.05, what=predicate)
    except AssertionError:
        return scrape()


async def test_a_job_process_metrics_are_on_the_worker_metrics_until_it_dies(
    tmp_path: Path, job: subprocess.Popen[str]
) -> None:
    setup_telemetry("agent", "test")  # the worker's own registry, as its __main__ sets it up
    server = HealthServer("127.0.0.1", free_port(), lambda: True, tmp_path, ["scrape"])
    await server.start()
    try:
        owner = next(tmp_path.glob("*.prom")).name.removesuffix(".prom")
        text = await asyncio.to_thread(_scrape_until, server.port, f'job_process="{owner}"')
        latency = _samples(text, "parley_turn_latency_seconds_count")
        assert latency[(("job_process", owner), ("stage", "e2e_latency"))] == 1
        assert _samples(text, "parley_outbox_dropped_total")[(("job_process", owner),)] == 2
        # Only the parley_* families come from job processes (not their interpreter's, say).
        assert all(label != job_metrics.LABEL for key in _samples(text, "python_info") for label, _ in key)

        job.kill()
        job.wait()
        text = await asyncio.to_thread(
            lambda: httpx.get(f"http://127.0.0.1:{server.port}/metrics", headers=SCRAPE).text
        )
        assert f'job_process="{owner}"' not in text
        assert list(tmp_path.glob("*.prom")) == []  # a dead process's file is removed
    finally:
        await server.stop()


@pytest.mark.parametrize(("worker_pid", "snapshots"), [("1", True), ("self", False)])
def test_only_a_separate_job_process_snapshots_its_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker_pid: str, snapshots: bool
) -> None:
    import os
    from types import SimpleNamespace

    import msgspec

    from parley_agent import worker
    from parley_agent.providers import ProviderSet
    from parley_agent.settings import Settings

    settings = Settings(providers="offline", state_dir=str(tmp_path))
    monkeypatch.setenv(worker.SETTINGS_ENV, msgspec.json.encode(settings).decode())
    monkeypatch.setenv(worker.WORKER_PID_ENV, str(os.getpid()) if worker_pid == "self" else worker_pid)
    started: list[Path] = []
    monkeypatch.setattr(job_metrics, "start_snapshots", started.append)
    monkeypatch.setattr(ProviderSet, "load", classmethod(lambda cls, settings: None))  # no models here
    monkeypatch.setattr(heap, "settle", lambda: None)  # keep this test process's collector as it is
    worker.prewarm(SimpleNamespace(userdata={}))  # type: ignore[arg-type]
    assert started == ([tmp_path / "metrics"] if snapshots else [])
