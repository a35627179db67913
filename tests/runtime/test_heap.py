"""`heap.settle()`: start-up objects are frozen, young collections come less often, cycles still die."""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json, weakref
from parley_runtime import heap

before = gc.get_freeze_count()
heap.settle()
frozen = gc.get_freeze_count()

class Node:
    pass

a, b = Node(), Node()
a.other, b.other = b, a  # a cycle: only the collector can free it
alive = weakref.ref(a)
del a, b
gc.collect()
print(json.dumps({"before": before, "frozen": frozen, "threshold": gc.get_threshold(),
                  "cycle_alive": alive() is not None, "young": heap.YOUNG_THRESHOLD}))
"""


def test_settle_freezes_start_up_objects_and_still_collects_cycles() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    probe = json.loads(out.stdout)
    assert probe["before"] == 0
    assert probe["frozen"] > 1000  # the imported modules and what they hold
    assert probe["threshold"][0] == probe["young"] > 700
    assert probe["cycle_alive"] is False
