"""The outbox's spill file: an append-only JSON-lines file of (subject, data, headers) entries.

The outbox writes here what it cannot keep in memory (overflow, an outage, shutdown) and reads it back in
chunks once NATS answers. A read offset tracks how far the file has been handed back; the file is emptied
only when everything read from it has been acked, so a process killed mid-replay replays the rest (and
JetStream's de-duplication absorbs what was published twice). A process killed mid-write leaves a torn
last line: reads skip it, and the next writer ends it first so it cannot swallow the following entry.

A disk that fails (full, read-only, an I/O error) must not break the call that emits: `append` only
buffers in memory, and `flush` writes. A write that fails is cut back to whole entries and its entries are
kept in `failed`, for the outbox to take back into memory, and the file is not `usable` for
`RETRY_SECONDS`; nothing here raises for a failing disk.

`waiting` counts the entries not handed back yet, without I/O: the outbox's backlog gauge reads it from the
metrics exporter's thread, which must neither write nor read the file under the event loop's feet.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from pathlib import Path

import msgspec

from parley_runtime.messaging.entries import Entry

logger = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # after a failed write, the outbox keeps events in memory this long before trying again

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Entry)


def _count_lines(path: Path) -> int:
    """Whole lines in the file (a torn last line is no entry), read in chunks: a backlog can be large."""
    with path.open("rb") as f:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))


def _torn(path: Path) -> bool:
    """Whether the file ends in the middle of a line."""
    with path.open("rb") as f:
        if f.seek(0, 2) == 0:
            return False
        f.seek(-1, 2)
        return f.read(1) != b"\n"


class SpillFile:
    """Append entries, read them back in order, start over once all were handed back and acked."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._buffered: list[Entry] = []  # appended, not yet written
        self._offset = 0  # bytes already handed back to the outbox
        self.failed: list[Entry] = []  # entries a write could not store, oldest first
        self._down_until = 0.0
        # A file left by an earlier process is replayed first.
        self.pending = path.exists() and path.stat().st_size > 0
        # Entries appended (buffered or written) and not handed back by `read` yet; failed ones are not counted.
        self.waiting = _count_lines(path) if self.pending else 0

    def append(self, entry: Entry) -> None:
        """Buffered in memory until `flush`, which encodes and writes (a write per entry would cost emit() a
        syscall); never fails."""
        self._buffered.append(entry)
        self.waiting += 1
        self.pending = True

    def flush(self) -> bool:
        """Write what was appended; False if the disk failed (those entries are then in `failed`)."""
        if not self._buffered:
            return True
        entries, self._buffered = self._buffered, []
        data = _encoder.encode_lines(entries)
        end = None
        try:
            fd = self._open()
            end = os.lseek(fd, 0, os.SEEK_END)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            if end is not None and self._fd is not None:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, end)  # no half entry left behind
            self.failed.extend(entries)
            self.waiting -= len(entries)
            self.mark_down()
            logger.error("outbox spill file write failed", extra={"error": str(exc), "count": len(entries)})
            return False
        return True

    @property
    def usable(self) -> bool:
        """False for `RETRY_SECONDS` after the disk failed."""
        return time.monotonic() >= self._down_until

    def mark_down(self) -> None:
        self._down_until = time.monotonic() + RETRY_SECONDS

    def take_failed(self) -> list[Entry]:
        failed, self.failed = self.failed, []
        return failed

    def _open(self) -> int:
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            torn = self.path.exists() and _torn(self.path)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            if torn:
                os.write(self._fd, b"\n")
                self.waiting += 1  # the torn line is a line now, which `read` passes over and counts off
        return self._fd

    def read(self, budget: int) -> list[Entry]:
        """Up to `budget` entries from the read offset on (a torn or corrupt line is skipped and logged)."""
        self.flush()
        if not self.path.exists():  # nothing was ever written (or every write failed)
            return []
        size = self.path.stat().st_size
        entries: list[Entry] = []
        with self.path.open("rb") as f:
            f.seek(self._offset)
            while budget and self._offset < size:
                line = f.readline()
                self._offset += len(line)
                if not line.endswith(b"\n"):
                    # Only a crash mid-write leaves a torn last line: it was never fully emitted.
                    logger.error("torn line at the end of the outbox spill file skipped")
                    break
                self.waiting -= 1
                try:
                    entries.append(_decoder.decode(line))
                except msgspec.DecodeError:
                    logger.error("corrupt line in outbox spill file skipped")
                budget -= 1
        return entries

    def at_end(self) -> bool:
        self.flush()
        return not self.path.exists() or self._offset >= self.path.stat().st_size

    def reset(self) -> None:
        """Everything read was acked and nothing is left: start over with an empty file."""
        self.close()
        try:
            self.path.write_bytes(b"")
            self._offset = 0
        except OSError as exc:  # left as it is: a later start replays it, and JetStream drops the copies
            logger.error("outbox spill file could not be emptied", extra={"error": str(exc)})
        self.pending = False
        self.waiting = 0

    def close(self) -> None:
        """Write what is buffered (what fails goes to `failed`) and close the file."""
        self.flush()
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
