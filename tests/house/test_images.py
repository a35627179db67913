"""The images' environments, rebuilt without Docker from `deploy/Dockerfile` itself, run as the images run them.

No Docker engine runs here, so each stage's environment is rebuilt the way its Dockerfile builds it: the
repository's sources copied into an empty `app` directory, and the stage's own `uv sync` arguments (read from
the Dockerfile, `${SERVICE}` filled in). Then the stage's entrypoint runs, as written:
* runtime: the build's `check` passes, and with the sources moved away (the wheels alone) the service serves
  `/health`;
* dev (Tilt's): the service serves `/health`, and a change to a synced source file restarts it on the new code
  (`/health` reports the version the edited file holds).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from parley_devstack.ports import free_port
from tests.support import ROOT, eventually_blocking, uv

DOCKERFILE = ROOT / "deploy" / "Dockerfile"
SERVICES = ["rooms", "history", "recordings", "agent", "console", "insights", "webhooks"]


@dataclass
class Stage:
    name: str
    base: str
    syncs: list[list[str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    entrypoint: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)


def stages(text: str) -> dict[str, Stage]:
    """Each stage's `uv sync` arguments, RUN lines, ENV, ENTRYPOINT and CMD, continuation lines joined."""
    found: dict[str, Stage] = {}
    stage: Stage | None = None
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        instruction, _, rest = line.strip().partition(" ")
        if instruction == "FROM":
            words = rest.split()
            stage = found[words[-1]] = Stage(words[-1], words[0])
        elif stage is None or not instruction:
            continue
        elif instruction == "RUN":
            command = re.sub(r"--mount=\S+\s+", "", rest).strip()
            stage.runs.append(command)
            if command.startswith("uv sync"):
                stage.syncs.append(shlex.split(command)[2:])
        elif instruction == "ENV":
            stage.env.update(dict(shlex.split(pair)[0].split("=", 1) for pair in re.findall(r"\S+=\S+", rest)))
        elif instruction == "ENTRYPOINT":
            stage.entrypoint = json.loads(rest)
        elif instruction == "CMD":
            stage.cmd = json.loads(rest)
    return found


def _fill(words: list[str], service: str) -> list[str]:
    """A stage's words with its build arguments at their defaults (no EXTRAS)."""
    return [w.replace("${SERVICE}", service) for w in words if w != "${EXTRAS}"]


def _copy_sources(app: Path) -> None:
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules", "dist")
    for name in ("libs", "services", "tools"):
        shutil.copytree(ROOT / name, app / name, ignore=ignore)
    for name in ("pyproject.toml", "uv.lock"):
        shutil.copy(ROOT / name, app / name)


def _settings(service: str, port: int, tmp: Path) -> dict[str, str]:
    prefix = f"{service.upper()}_"
    common = {f"{prefix}PORT": str(port), f"{prefix}HOST": "127.0.0.1", f"{prefix}NATS_URL": "nats://127.0.0.1:9"}
    if service == "agent":
        return {
            **common,
            "AGENT_PROVIDERS": "offline",
            "AGENT_STATE_DIR": str(tmp / "agent"),
            "AGENT_LIVEKIT_URL": "ws://127.0.0.1:9",
            "AGENT_LIVEKIT_API_KEY": "k",
            "AGENT_LIVEKIT_API_SECRET": "s" * 32,
        }
    if service == "console":
        urls = {f"CONSOLE_{name}_URL": "http://127.0.0.1:9" for name in ("HISTORY", "ROOMS", "RECORDINGS")}
        return {
            **common,
            **urls,
            "CONSOLE_API_KEYS": "k",
            "CONSOLE_SERVICE_KEY": "k",
            "CONSOLE_SESSION_SECRET": "s" * 32,
        }
    if service == "insights":
        return {**common, "INSIGHTS_API_KEYS": "k"}
    extra = {
        "rooms": {"ROOMS_LIVEKIT_URL": "http://127.0.0.1:9", "ROOMS_LIVEKIT_API_KEY": "k",
                  "ROOMS_LIVEKIT_API_SECRET": "s" * 32, "ROOMS_STATE_DIR": str(tmp / "rooms")},
        "recordings": {"RECORDINGS_BLOB_URL": (tmp / "blobs").as_uri()},
        "history": {},
        "webhooks": {"WEBHOOKS_SECRET_KEY": "s" * 32},
    }  # fmt: skip
    return {
        **common,
        f"{prefix}DATABASE_URL": "postgresql://nobody@127.0.0.1:9/none",
        f"{prefix}API_KEYS": "k",
        f"{prefix}MIGRATE_ON_START": "false",
        **extra[service],
    }


def _environment(stage: Stage, app: Path, service: str, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "PYTHON", "UV_"))}
    for key, value in stage.env.items():
        value = value.replace("${SERVICE}", service).replace("/app/", f"{app}/").replace("$PATH", env["PATH"])
        env[key] = value
    return {**env, **extra}


@contextmanager
def running(command: list[str], env: dict[str, str], cwd: Path, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(command, env=env, cwd=cwd, stdout=log.open("ab"), stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        yield proc
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _version(port: int) -> str | None:
    try:
        return str(httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).json()["version"])
    except (httpx.HTTPError, ValueError, KeyError):
        return None


def test_the_dockerfile_builds_each_service_with_its_own_arguments() -> None:
    found = stages(DOCKERFILE.read_text())
    assert {"dev", "builder", "runtime"} <= set(found)
    assert found["runtime"].entrypoint and found["dev"].entrypoint
    assert any("--no-editable" in sync for sync in found["builder"].syncs)
    assert not any("--no-editable" in sync for sync in found["dev"].syncs)


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
def test_the_runtime_image_serves_health_from_its_wheels_alone(service: str, tmp_path: Path) -> None:
    stage, builder = stages(DOCKERFILE.read_text())["runtime"], stages(DOCKERFILE.read_text())["builder"]
    app = tmp_path / "app"
    _copy_sources(app)
    uv("sync", *_fill(builder.syncs[-1], service), cwd=app)
    for name in ("libs", "services", "tools"):  # the runtime image holds the environment, not the sources
        shutil.move(app / name, tmp_path / f"gone-{name}")
    port = free_port()
    env = _environment(stage, app, service, _settings(service, port, tmp_path))
    checks = [shlex.split(run.replace("${SERVICE}", service)) for run in stage.runs if run.startswith("python")]
    assert checks, "the runtime stage checks the service at build time"
    for check in checks:
        assert subprocess.run(check, env=env, cwd=app, capture_output=True, timeout=300).returncode == 0, check
    with running([*stage.entrypoint, *stage.cmd], env, app, tmp_path / "service.log"):
        assert eventually_blocking(lambda: _version(port), timeout=90, what=f"{service}'s /health")


@pytest.mark.slow
@pytest.mark.parametrize("service", SERVICES)
def test_the_dev_image_restarts_the_service_on_a_synced_change(service: str, tmp_path: Path) -> None:
    stage = stages(DOCKERFILE.read_text())["dev"]
    app = tmp_path / "app"
    _copy_sources(app)
    uv("sync", *_fill(stage.syncs[-1], service), cwd=app)
    port = free_port()
    env = _environment(stage, app, service, _settings(service, port, tmp_path))
    entrypoint = [word.replace("/app/", f"{app}/") for word in stage.entrypoint]
    with running([*entrypoint, *stage.cmd], env, app, tmp_path / "service.log"):
        assert eventually_blocking(lambda: _version(port), timeout=90, what=f"{service}'s /health") == "0.1.0"
        init = app / "services" / service / "src" / f"parley_{service}" / "__init__.py"
        init.write_text(init.read_text().replace('__version__ = "0.1.0"', '__version__ = "0.1.0+synced"'))
        synced = eventually_blocking(lambda: _version(port) == "0.1.0+synced", timeout=90, what="the restart")
        assert synced, (tmp_path / "service.log").read_text()[-3000:]
