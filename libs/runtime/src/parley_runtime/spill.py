"""The outbox's spill file: an append-only JSON-lines file of (subject, data, headers) entries.

The outbox writes here what it cannot keep in memory (overflow, an outage, shutdown) and reads it back in
chunks once NATS answers. A read offset tracks how far the file has been handed back; the file is emptied
only when everything read from it has been acked, so a process killed mid-replay replays the rest (and
JetStream's de-duplication absorbs what was published twice). A process killed mid-write leaves a torn
last line: reads skip it, and the next writer ends it first so it cannot swallow the following entry.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import IO

import msgspec

from parley_runtime.entries import Entry

logger = logging.getLogger(__name__)

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Entry)


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
        self._writer: IO[bytes] | None = None
        self._offset = 0  # bytes already handed back to the outbox
        # A file left by an earlier process is replayed first.
        self.pending = path.exists() and path.stat().st_size > 0

    def append(self, entry: Entry) -> None:
        """Buffered: call `flush` to hand it to the kernel (a flush per entry would cost emit() a syscall)."""
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._writer = self.path.open("ab")
            if _torn(self.path):
                self._writer.write(b"\n")
        self._writer.write(_encoder.encode(entry) + b"\n")
        self.pending = True

    def flush(self) -> None:
        if self._writer is not None:
            self._writer.flush()

    def unread(self) -> bool:
        """Whether entries remain that were not handed back yet."""
        if not self.pending:
            return False
        self.flush()
        return self.path.exists() and self.path.stat().st_size > self._offset

    def read(self, budget: int) -> list[Entry]:
        """Up to `budget` entries from the read offset on (a torn or corrupt line is skipped and logged)."""
        self.flush()
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
                try:
                    entries.append(_decoder.decode(line))
                except msgspec.DecodeError:
                    logger.error("corrupt line in outbox spill file skipped")
                budget -= 1
        return entries

    def at_end(self) -> bool:
        self.flush()
        return self._offset >= self.path.stat().st_size

    def reset(self) -> None:
        """Everything read was acked and nothing is left: start over with an empty file."""
        self.close()
        self.path.write_bytes(b"")
        self._offset = 0
        self.pending = False

    def unread_count(self) -> int:
        """How many entries are left past the read offset (counts lines; used once, at close)."""
        if not self.pending or not self.path.exists():
            return 0
        self.flush()
        with self.path.open("rb") as f:
            f.seek(self._offset)
            return f.read().count(b"\n")

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
