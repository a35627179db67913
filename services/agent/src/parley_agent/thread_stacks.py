"""Make `sys._current_frames()` safe on Python 3.11: unguarded, it can hang the whole process for good.

livekit-agents samples a blocked event loop's stack from a watchdog thread with `sys._current_frames()`
(its loop monitor, in the worker and in every job process), and so does its check for threads that keep a
job process from exiting. On CPython 3.11 that call holds the runtime's thread-list lock while it
allocates. A garbage collection can then start inside it and run Python code (a finalizer, a weakref
callback) that lets another thread take the GIL; if that thread starts or ends a thread, it waits for the
thread-list lock while holding the GIL, and neither can go on (python/cpython#106883, fixed in 3.12
only). Loops block most when the CPU is short, which is when the monitor samples: a worker running 40
calls on two cores hung this way, every call with it.

The guard holds collection off for the length of the call, the fix CPython proposed for 3.11, under a lock
so that two callers at once cannot turn collection back on while one of them is still inside.
"""

from __future__ import annotations

import gc
import sys
import threading
from types import FrameType

_original = sys._current_frames
_lock = threading.Lock()


def _current_frames_without_collection() -> dict[int, FrameType]:
    with _lock:
        enabled = gc.isenabled()
        gc.disable()
        try:
            return _original()
        finally:
            if enabled:
                gc.enable()


def guard_current_frames() -> None:
    """Install the guard for this process (idempotent; nothing to do from Python 3.12 on)."""
    if sys.version_info < (3, 12):
        sys._current_frames = _current_frames_without_collection
