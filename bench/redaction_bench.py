"""What redaction costs: the time to redact a turn, the memory of the detector, and the caller's wait with it
on and off.

1. `redact`: 1,000 different 30-word turns (a third with a card number, a phone number or an e-mail address,
   written or spoken; the rest with none) through the agent's Redactor with Presidio, as a call's redaction
   thread runs them: `redact_p50_ms`, `redact_p99_ms`, and the detector's load time and resident memory.
2. `wait`: spoken calls with the local set (`simulate --providers local`) taking turns with `AGENT_REDACT=none`
   and the default, the caller's wait (end of speech to the agent's first audio) of each side by side:
   `redact_wait_p50_ms_on` / `_off`. Redaction runs on its own thread after a turn is final, so the wait
   should not move.

    python -m bench.redaction_bench [--turns 1000] [--calls 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import time
from pathlib import Path

import parley_contracts as c
from bench.common import machine, percentile, provisioned_nats, table
from bench.voice_bench import answered_waits, spoken_call
from parley_devstack.testing import stream_events

RESULTS = Path(__file__).parent / "results.json"
FILLER = (
    "I would like to move my appointment to Friday afternoon if that still works for you and the doctor because on"
    " Thursday I have to take my daughter to her swimming lesson right after school"
)
PII = ["my card is 4111 1111 1111 {n:04d}", "call me on 415 555 {n:04d}", "mail ada{n}@example.com",
       "my card is four one one one one one one one one one one one one one one one"]  # fmt: skip
SAID = ["My card number is 4 1 1 1, 1 1 1 1, 1 1 1 1, 1 1 1 1.", "Could you move my appointment to Friday?",
        "My phone number is 4 1 5, 5 5 5, 2 6 7 1.", "Thank you, that is all for today."]  # fmt: skip


def turns(n: int) -> list[str]:
    rng = random.Random(7)
    made = []
    for i in range(n):
        words = rng.sample(FILLER.split(), 24)
        if i % 3 == 0:
            words[10:10] = PII[i % len(PII)].format(n=i).split()
        made.append(" ".join(words[:30] if i % 3 else words))
    return made


def redact(n: int) -> dict[str, object]:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    from parley_agent.redaction.detect import PresidioDetector
    from parley_agent.redaction.policy import DEFAULT_TYPES
    from parley_agent.redaction.redactor import Redactor

    detector = PresidioDetector.shared()
    detector.warm()
    load_s = time.perf_counter() - started
    redactor = Redactor(detector, frozenset(DEFAULT_TYPES))
    times, masked = [], 0
    for text in turns(n):
        t0 = time.perf_counter()
        done = redactor._redact(text)  # not the cache: each turn is new
        times.append((time.perf_counter() - t0) * 1000)
        masked += bool(done.redactions)
    return {
        "redact_p50_ms": round(percentile(times, 50), 2),
        "redact_p99_ms": round(percentile(times, 99), 2),
        "redact_turns": n,
        "redact_turns_masked": masked,
        "redact_load_s": round(load_s, 2),
        "redact_detector_rss_mb": round((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024, 1),
    }


def waits(nats_url: str, root: Path, calls: int) -> dict[str, object]:
    for i in range(calls):
        for mode in ("none", "default"):  # taking turns, so the machine's drift weighs on both alike
            spoken_call(nats_url, root / f"{mode}-{i}", SAID, {"AGENT_REDACT": mode}, f"redact-{mode}-{i}")
        print(f"  pair {i + 1} of {calls} done", flush=True)
    events = asyncio.run(stream_events(nats_url))
    found: dict[str, object] = {}
    for mode, name in (("none", "off"), ("default", "on")):
        mine = [e for e in events if isinstance(e, c.TurnCompleted) and e.conversation_id.startswith(f"redact-{mode}-")]
        measured = answered_waits(list(mine))
        found[f"redact_wait_p50_ms_{name}"] = round(percentile(measured, 50))
        found[f"redact_wait_p99_ms_{name}"] = round(percentile(measured, 99))
    return found


def main(n: int, calls: int) -> dict[str, object]:
    print(f"1. redact: {n} turns of 30 words through Presidio...", flush=True)
    results = redact(n)
    with provisioned_nats("parley-redaction-bench-") as (nats_url, root):
        print(f"2. wait: {calls} pairs of spoken calls, redaction off and on...", flush=True)
        results |= waits(nats_url, root, calls)
    results["redact_machine"] = machine()
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=1000)
    parser.add_argument("--calls", type=int, default=2)
    args = parser.parse_args()
    found = main(args.turns, args.calls)
    merged = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    RESULTS.write_text(json.dumps(merged | found, indent=2) + "\n")
    print(f"\nredaction benchmark (added to {RESULTS})")
    print(table([(k, str(v)) for k, v in found.items()]))
