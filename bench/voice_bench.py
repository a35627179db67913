"""What Parley costs a voice call, and how long its caller waits, measured on this machine.

    1. cost   the same call (`bench.voice_call`) with Parley and with a bare `AgentSession`, alternating, each in
              a process of its own: real VAD and turn detection in the process, speech recognized and
              synthesized elsewhere (stand-ins that answer at once). CPU seconds and peak resident memory.
    2. wait   spoken calls with the local set (Whisper, piper, VAD, turn detector, the scripted model) through
              `python -m parley_agent simulate --providers local`, one at a time: the caller's wait for each
              answer, from the end of their speech to the agent's first audio (`e2e_latency`).

Adds `voice_*` keys to bench/results.json and prints them.

    python -m bench.voice_bench [--runs 5] [--calls 3]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

import parley_contracts as c
from bench.common import machine, percentile, provisioned_nats, table
from parley_devstack.testing import stream_events

RESULTS = Path(__file__).parent / "results.json"
SAID = [
    "Could you move my appointment to next Tuesday afternoon?",
    "My daughter has a swimming lesson on Friday morning.",
    "Please send the confirmation to my email address.",
    "And can you remind me the day before?",
    "Thank you, that is all for today.",
]


def one_call(mode: str, nats_url: str, state: Path) -> dict[str, float]:
    run = subprocess.run(
        [sys.executable, "-m", "bench.voice_call", mode, nats_url, str(state)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"the {mode} call failed: {run.stderr[-2000:]}")
    figures: dict[str, float] = json.loads(run.stdout.strip().splitlines()[-1])
    return figures


def cost(nats_url: str, root: Path, runs: int) -> dict[str, object]:
    """Parley and bare take turns (P, B, P, B, ...), so the machine's drift weighs on both alike."""
    parley, bare = [], []
    for i in range(runs):
        parley.append(one_call("parley", nats_url, root / f"parley-{i}"))
        bare.append(one_call("bare", nats_url, root / f"bare-{i}"))
        print(f"  run {i + 1}: parley {parley[-1]['cpu_seconds']:.2f} s CPU, bare {bare[-1]['cpu_seconds']:.2f} s CPU")
    cpu_p = [r["cpu_seconds"] for r in parley]
    cpu_b = [r["cpu_seconds"] for r in bare]
    pairs = [p / b for p, b in zip(cpu_p, cpu_b, strict=True)]
    return {
        "voice_cpu_ratio": round(sum(cpu_p) / sum(cpu_b), 3),
        "voice_cpu_ratio_pair_min": round(min(pairs), 3),
        "voice_cpu_ratio_pair_max": round(max(pairs), 3),
        "voice_cpu_seconds_parley": round(statistics.median(cpu_p), 2),
        "voice_cpu_seconds_bare": round(statistics.median(cpu_b), 2),
        "voice_call_seconds": round(statistics.median(r["wall_seconds"] for r in parley), 1),
        "voice_rss_delta_mb": round(
            statistics.median(r["peak_rss_mb"] for r in parley) - statistics.median(r["peak_rss_mb"] for r in bare), 1
        ),
        "voice_rss_peak_parley_mb": round(statistics.median(r["peak_rss_mb"] for r in parley), 1),
    }


def answered_waits(events: list[object]) -> list[float]:
    """The e2e latency of every reply that answers a caller's turn, in ms."""
    turns = sorted((e for e in events if isinstance(e, c.TurnCompleted)), key=lambda t: (t.session_id, t.seq))
    waits = []
    for before, turn in itertools.pairwise(turns):
        answers = before.session_id == turn.session_id and before.role == "user" and turn.role == "assistant"
        if answers and turn.metrics is not None and turn.metrics.e2e_latency is not None:
            waits.append(turn.metrics.e2e_latency * 1000)
    return waits


def spoken_call(
    nats_url: str, state: Path, lines: list[str], settings: dict[str, str] | None = None, conversation: str = ""
) -> None:
    """One call through the local voice set in the agent's own process, the caller saying `lines`, to its end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}
    env |= {"AGENT_NATS_URL": nats_url, "AGENT_STATE_DIR": str(state), "AGENT_PORT": "0", **(settings or {})}
    named = ["--conversation-id", conversation] if conversation else []
    run = subprocess.run(
        [sys.executable, "-m", "parley_agent", "simulate", "--providers", "local", "--exit", *named,
         *(a for line in lines for a in ("--say", line))],
        env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"the local call failed: {run.stderr[-2000:]}")


def waits(nats_url: str, root: Path, calls: int) -> dict[str, object]:
    for i in range(calls):
        spoken_call(nats_url, root / "local", SAID)
        print(f"  call {i + 1} of {calls} done")
    measured = answered_waits(asyncio.run(stream_events(nats_url)))
    return {
        "voice_wait_p50_ms": round(percentile(measured, 50)),
        "voice_wait_p99_ms": round(percentile(measured, 99)),
        "voice_wait_max_ms": round(max(measured)),
        "voice_wait_samples": len(measured),
    }


def main(runs: int, calls: int) -> dict[str, object]:
    with provisioned_nats("parley-voice-bench-") as (nats_url, root):
        print(f"1. cost: the same call with Parley and bare, {runs} runs each, taking turns...", flush=True)
        results = cost(nats_url, root, runs)
        print(f"2. wait: {calls} spoken calls with the local set, one at a time...", flush=True)
        results |= waits(nats_url, root, calls)
    results["voice_machine"] = machine()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="calls with Parley and without, each")
    parser.add_argument("--calls", type=int, default=3, help="spoken calls for the caller's wait")
    parser.add_argument("--out", type=Path, default=RESULTS, help="the results file the voice_* keys join")
    args = parser.parse_args()
    found = main(args.runs, args.calls)
    merged = json.loads(args.out.read_text()) if args.out.exists() else {}
    args.out.write_text(json.dumps(merged | found, indent=2) + "\n")
    print(f"\nvoice benchmark (added to {args.out})")
    print(table([(k, str(v)) for k, v in found.items()]))
    print("\nTargets: voice_cpu_ratio <= 1.05, voice_rss_delta_mb <= 25")
