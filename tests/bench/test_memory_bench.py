"""`python -m bench.memory_bench` keeps working: a small run reads history's memory after every stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_small_memory_bench_reads_history_memory_after_each_stage() -> None:
    args = ["--conversations", "3000", "--stage", "1000", "--known-rows-max", "1000"]
    run = subprocess.run(
        [sys.executable, "-m", "bench.memory_bench", *args],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    for stored in ("1,000", "2,000", "3,000"):
        assert f"{stored:>9} conversations stored: history RSS" in run.stdout
    assert "rss_growth_once_full_mb" in run.stdout  # stages 2,000 and 3,000 ran with the memory full
