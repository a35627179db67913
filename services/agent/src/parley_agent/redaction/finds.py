"""What a detector reports, and the Protocol the redactor sees detectors through (Presidio, or a test's fake)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Found:
    type: str
    start: int
    end: int
    score: float


class Detector(Protocol):
    def find(self, text: str, types: frozenset[str]) -> list[Found]: ...
