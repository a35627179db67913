"""Garbage-collector settings for a long-running Parley process, applied once start-up is over.

CPython's cycle collector runs a young collection every 700 container allocations. A consumer holds a
fetched batch (1,000 messages, each a handful of objects) across many of those, so every batch gets
promoted into the older generations, and the full collections that follow walk every object the process
ever imported: in the history service, a third of its work (docs/performance.md). Two standard remedies:

* `gc.freeze()` after start-up: modules, the app and its settings live for the whole process, so the
  collector stops walking them (full collections shrink from ~150,000 objects to what is really new);
* young collections every `YOUNG_THRESHOLD` allocations, so a batch dies young instead of being promoted.

Cycles are still collected; only the cadence changes. The agent's job processes apply it too: a pause of
tens of milliseconds in a process that streams audio is an audible glitch.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000


def settle() -> None:
    """Call once, after start-up: freeze what exists, then collect young objects in bigger steps."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
