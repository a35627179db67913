"""Names and owners of the agent's outbox spill files, so a worker knows which ones are orphans to replay.

A call's spill file is `outbox/<session>.<owner>.jsonl`, its owner the job process as `<pid>-<start>`: the
pid and the process's start time (clock ticks since boot, from /proc). The pid alone is not enough in a
container: a restarted container's pids start over, so a new process can hold a dead writer's pid, and
its file would pass for live until that process ends (a pooled job process lives for hours).

When a call ends with events still on disk, its job process releases the file (`release`): pooled job
processes outlive their calls. A worker claims an orphan by renaming it to
`<session>.<its own owner>.replaying`, so two workers never replay the same file, and a claim whose worker
died is itself an orphan the next pass claims again.
"""

from __future__ import annotations

from pathlib import Path

from parley_agent.owners import owner_alive, this_owner


def _session_and_owner(path: Path) -> tuple[str, str]:
    """`<session>.<owner>.<suffix>`: its two parts (the owner is empty in a name without one)."""
    session, _, rest = path.name.partition(".")
    return session, rest.partition(".")[0] if "." in rest else ""


def spill_path(state: Path, session_id: str) -> Path:
    """Where a call of this process spills its events."""
    return state / "outbox" / f"{session_id}.{this_owner()}.jsonl"


def orphans(directory: Path, active: set[Path]) -> list[Path]:
    """Spill files no running process will publish: their writer (or, for a claim, their claimer) is gone.

    Files of this process that are not `active` (its finished calls) are orphans too; its claims are not
    (it is replaying them).
    """
    me = this_owner()
    found = []
    for path in sorted(directory.glob("*.jsonl")) + sorted(directory.glob("*.replaying")):
        _, owner = _session_and_owner(path)
        try:
            if path in active or path.stat().st_size == 0:
                continue
        except FileNotFoundError:
            continue  # claimed by another worker meanwhile
        if path.suffix == ".replaying":
            if owner == me or owner_alive(owner):
                continue
        elif owner != me and owner_alive(owner):
            continue
        found.append(path)
    return found


def release(path: Path) -> Path | None:
    """Hand a finished call's spill file to any worker: renamed so that no running process owns it.

    A job process is pooled and outlives its calls; a file it still owned would wait for it to exit.
    Returns the new path, or None when there was nothing left to publish.
    """
    try:
        if path.stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None
    session, owner = _session_and_owner(path)
    released = path.with_name(f"{session}.finished-{owner}.jsonl")  # no pid: `owner_alive` says no
    path.rename(released)
    return released


def claim(path: Path) -> Path | None:
    """Take an orphan for this process; None if another worker took it first."""
    session, _ = _session_and_owner(path)
    claimed = path.with_name(f"{session}.{this_owner()}.replaying")
    try:
        path.rename(claimed)
    except FileNotFoundError:
        return None
    return claimed
