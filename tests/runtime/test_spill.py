"""The outbox's spill file on its own: order, read offset, torn and corrupt lines, starting over."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from parley_runtime.messaging.spill import SpillFile


def _entry(i: int) -> tuple[str, bytes, dict[str, str]]:
    return ("voice.v1.turn_completed.c", f'{{"n":{i}}}'.encode(), {"Nats-Msg-Id": str(i)})


def test_entries_come_back_in_order_in_chunks_and_the_file_starts_over_once_read(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    for i in range(5):
        spill.append(_entry(i))
    assert spill.waiting == 5
    assert spill.read(3) == [_entry(0), _entry(1), _entry(2)]
    assert spill.waiting == 2
    assert not spill.at_end()
    assert spill.read(3) == [_entry(3), _entry(4)]
    assert spill.at_end() and spill.waiting == 0
    spill.reset()
    assert not spill.pending and spill.path.read_bytes() == b""
    spill.append(_entry(9))
    assert spill.read(10) == [_entry(9)]


def test_a_file_left_by_an_earlier_process_is_pending_at_start(tmp_path: Path) -> None:
    first = SpillFile(tmp_path / "spill.jsonl")
    first.append(_entry(1))
    first.close()
    second = SpillFile(tmp_path / "spill.jsonl")
    assert second.pending and second.waiting == 1
    assert not SpillFile(tmp_path / "other.jsonl").pending


def test_a_torn_last_line_is_ended_before_the_next_entry_and_skipped_on_read(tmp_path: Path) -> None:
    path = tmp_path / "spill.jsonl"
    first = SpillFile(path)
    first.append(_entry(1))
    first.close()
    with path.open("ab") as f:
        f.write(b'["voice.v1.turn_completed.c","eyJu')  # killed mid-write
    second = SpillFile(path)
    assert second.waiting == 1  # the torn line is no entry
    second.append(_entry(2))
    assert second.read(10) == [_entry(1), _entry(2)]
    assert second.waiting == 0


def test_a_corrupt_line_is_skipped_and_the_rest_read(tmp_path: Path) -> None:
    path = tmp_path / "spill.jsonl"
    path.write_bytes(b"not json\n")
    spill = SpillFile(path)
    spill.append(_entry(3))
    assert spill.waiting == 2  # the corrupt line is counted until it is read past
    assert spill.read(10) == [_entry(3)]
    assert spill.at_end() and spill.waiting == 0


def test_appends_are_visible_to_reads_without_an_explicit_flush(tmp_path: Path) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    spill.append(_entry(1))
    assert spill.waiting == 1
    assert spill.read(1) == [_entry(1)]


def test_a_failed_write_is_cut_back_to_whole_entries_and_its_entries_are_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spill = SpillFile(tmp_path / "spill.jsonl")
    spill.append(_entry(1))
    assert spill.flush() and spill.usable
    before = spill.path.read_bytes()
    real_write = os.write
    calls: list[int] = []

    def part_then_full(fd: int, data: bytes) -> int:
        calls.append(fd)
        if len(calls) == 1:
            return real_write(fd, bytes(data[:10]))  # the kernel took part of it, then the disk was full
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", part_then_full)
    spill.append(_entry(2))
    spill.append(_entry(3))
    assert spill.waiting == 3
    assert not spill.flush()  # and nothing raised
    monkeypatch.undo()
    assert spill.waiting == 1  # the failed entries are the outbox's to count now, in memory
    assert len(calls) == 2
    assert spill.path.read_bytes() == before  # no half entry left to swallow the next one
    assert spill.take_failed() == [_entry(2), _entry(3)]
    assert not spill.usable  # the outbox keeps events in memory for a while
    assert spill.read(10) == [_entry(1)]
