"""A small disk to fill, for the tests of what Parley does when a disk is full (Postgres's, blob storage's).

A tmpfs of a few megabytes, mounted for the test and unmounted after; mounting needs root (CAP_SYS_ADMIN).
`fill` takes every free byte with a file of the test's own, which a server running as another user cannot
remove; unlinking it gives the space back.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path


class CannotMount(Exception):
    """This machine does not let the tests mount a tmpfs (not root, or in a container without the capability)."""


@contextlib.contextmanager
def small_disk(mount: Path, megabytes: int) -> Iterator[Path]:
    """A tmpfs of `megabytes` at `mount` (created), writable by every user; unmounted on exit."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0777", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise CannotMount(done.stderr.strip() or f"mount exited {done.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True, check=False)


def fill(disk: Path, *, leave: int = 0) -> Path:
    """Take every free byte of `disk` but `leave` (rounded to blocks); returns the file that holds them (unlink
    it to free them)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (1 << 20, 1 << 12, 1):  # down to the last byte
            with contextlib.suppress(OSError):
                while os.write(fd, b"\0" * size):
                    pass
        if leave:
            os.ftruncate(fd, max(0, os.fstat(fd).st_size - leave))
    finally:
        os.close(fd)
    free = os.statvfs(disk)
    if free.f_bavail * free.f_frsize > leave + free.f_frsize:
        raise RuntimeError(f"{disk} still has {free.f_bavail} free blocks")
    return filler
