"""Which process wrote a file: `<pid>-<start>`, the pid and the process's start time, so files outlive it.

The start time (clock ticks since boot, from /proc) tells a process from a later one with the same pid:
a restarted container's pids start over, so the pid alone would make a dead writer's file look live.
Where there is no /proc (macOS dev machines) the pid alone is used.
"""

from __future__ import annotations

import os
from functools import cache


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot, or None without /proc or the process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return None


@cache
def _owner_of_this_process(pid: int) -> str:
    start = _start_time(pid)
    return f"{pid}-{start}" if start else str(pid)


def this_owner() -> str:
    """This process as an owner: `<pid>-<start>`, or the pid alone where there is no /proc."""
    return _owner_of_this_process(os.getpid())


def owner_alive(owner: str) -> bool:
    """Whether the process `owner` names still runs (a reused pid with another start time does not count).

    `<pid>` alone (files of earlier versions, or a system without /proc) is checked by pid only.
    """
    pid_text, _, start = owner.partition("-")
    try:
        pid = int(pid_text)
    except ValueError:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, run by someone else
    if start and (actual := _start_time(pid)) is not None:
        return actual == start
    return True
