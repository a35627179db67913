"""The job processes' metrics on the worker's `/metrics`.

livekit-agents runs each call in a job process (a pool of them), and that is where a call's turn
latencies and its outbox are measured; no HTTP server listens there. So every job process writes its
Prometheus text to `<state>/metrics/<owner>.prom` every few seconds, and the worker's `/metrics` adds the
`parley_*` families of every live job process to its own, each sample labelled `job_process=<owner>`
(sum over it in queries). A dead process's file is deleted and its series end, as they would if it had
been scraped itself. With OTLP configured, every process also pushes its metrics directly.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from parley_agent.owners import owner_alive, this_owner
from parley_runtime.observability.telemetry import prometheus_text

logger = logging.getLogger(__name__)

SNAPSHOT_SECONDS = 5.0
LABEL = "job_process"


def snapshot(directory: Path) -> None:
    """Write this process's metrics, whole (renamed into place), for the worker to read."""
    directory.mkdir(parents=True, exist_ok=True)
    part = directory / f"{this_owner()}.prom.part"
    part.write_bytes(prometheus_text())
    part.rename(directory / f"{this_owner()}.prom")


def start_snapshots(directory: Path, interval: float = SNAPSHOT_SECONDS) -> threading.Thread:
    """A daemon thread that snapshots every `interval` seconds for the life of this (job) process."""

    def run() -> None:
        while True:
            try:
                snapshot(directory)
            except OSError:
                logger.warning("job metrics snapshot failed", exc_info=True)
            time.sleep(interval)

    thread = threading.Thread(target=run, name="job-metrics", daemon=True)
    thread.start()
    return thread


def _job_families(directory: Path) -> Iterator[tuple[str, Metric]]:
    me = this_owner()
    for path in sorted(directory.glob("*.prom")):
        owner = path.name.removesuffix(".prom")
        if owner == me:
            continue  # jobs in threads of this process: already in its own registry
        if not owner_alive(owner):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
            continue
        try:
            families = list(text_string_to_metric_families(path.read_text()))
        except (OSError, ValueError):
            continue  # replaced or cut short meanwhile: the next scrape reads it
        for family in families:
            if family.name.startswith("parley_"):
                yield owner, family


def merged_text(directory: Path | None) -> bytes:
    """This process's metrics plus the `parley_*` families of every live job process, as Prometheus text."""
    own = prometheus_text()
    jobs = list(_job_families(directory)) if directory is not None and directory.exists() else []
    if not jobs:
        return own  # no job process of its own (or jobs in threads): nothing to parse and merge
    merged = {family.name: family for family in text_string_to_metric_families(own.decode())}
    for owner, family in jobs:
        into = merged.get(family.name)
        if into is None:
            into = merged[family.name] = Metric(family.name, family.documentation, family.type)
        for s in family.samples:
            into.add_sample(s.name, {**s.labels, LABEL: owner}, s.value, s.timestamp, s.exemplar)

    class _Merged:
        def collect(self) -> Iterator[Metric]:
            yield from merged.values()

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Merged())
    return generate_latest(registry)
