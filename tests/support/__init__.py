"""What tests share: waiting for a condition (`eventually`), the repository's root, running uv."""

from __future__ import annotations

import asyncio
import inspect
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar, overload

ROOT = Path(__file__).resolve().parents[2]
T = TypeVar("T")


class _Deadline:
    def __init__(self, timeout: float, what: str) -> None:
        self.at = time.monotonic() + timeout
        self.timeout = timeout
        self.what = what

    def check(self) -> None:
        assert time.monotonic() < self.at, f"timed out after {self.timeout} s waiting for {self.what}"


@overload
async def eventually(
    check: Callable[[], Awaitable[T | None]], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...


@overload
async def eventually(
    check: Callable[[], T | None], *, timeout: float = ..., interval: float = ..., what: str = ...
) -> T: ...


async def eventually(
    check: Callable[[], Any], *, timeout: float = 15.0, interval: float = 0.05, what: str = "a condition"
) -> Any:
    """Call `check` (a function or a coroutine function) until it returns something true, and return that; fail
    naming `what` after `timeout` seconds. An AssertionError raised by `check` counts as not yet."""
    deadline = _Deadline(timeout, what)
    while True:
        try:
            result = check()
            if inspect.isawaitable(result):
                result = await result
            if result:
                return result
        except AssertionError:
            if time.monotonic() >= deadline.at:
                raise
        deadline.check()
        await asyncio.sleep(interval)


def eventually_blocking(
    check: Callable[[], T | None], *, timeout: float = 15.0, interval: float = 0.1, what: str = "a condition"
) -> T:
    """`eventually` for a test that runs no event loop (it drives processes and HTTP with blocking calls)."""
    return asyncio.run(eventually(check, timeout=timeout, interval=interval, what=what))


def uv(
    *args: str, environment: Path | None = None, cwd: Path = ROOT, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run uv (the workspace's package manager) in `cwd`; `environment` is the venv it syncs into (by default
    the project's own `.venv`)."""
    python = os.environ.get("UV_PYTHON") or str(getattr(sys, "_base_executable", sys.executable))
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never", "UV_PYTHON": python}
    env.pop("VIRTUAL_ENV", None)
    if environment is not None:
        env["UV_PROJECT_ENVIRONMENT"] = str(environment)
    result = subprocess.run(
        [sys.executable, "-m", "uv", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result
