"""`make demo` end to end: the embedded stack, rooms API, three simulated calls, history, recordings, erasure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_the_demo_runs_three_conversations_through_the_whole_platform(tmp_path: Path) -> None:
    env = {**os.environ, "PARLEY_DEMO_ROOT": str(tmp_path / "demo")}
    env.pop("LIVEKIT_URL", None)
    # Within two minutes, as the issue asks (about a minute here, the three calls spoken through the local voice):
    # a slower run fails with TimeoutExpired.
    run = subprocess.run([sys.executable, "-m", "parley_devstack.demo"], env=env, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    out = run.stdout
    assert out.count("=== conversation") == 3
    assert out.count("[audio/ogg]") == 3 and out.count("[transcript/vtt]") == 3
    assert out.count(": ended, agent session") == 3
    assert "session; history answers 404, recordings lists 0 objects, the streams are purged" in out
    assert "with user id None, metadata {} and 0 participants" in out
    assert out.rstrip().endswith("demo: ok")
