"""One `call.report` per session: the end of the session, its turns, its recordings, its analysis and cost, and a
latency summary, sent once the transcript is stored and the analysis is done, or after a wait with what is there
(`missing` names what is not).

Its parts arrive as separate events in any order; `ReportRow` holds them until the report is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from statistics import quantiles
from typing import Any, Protocol

PARTS = ("session", "transcript", "analysis")


@dataclass
class ReportRow:
    session_id: str
    conversation_id: str
    ended: dict[str, Any] | None = None
    recordings: list[dict[str, Any]] = field(default_factory=list)
    analysis: dict[str, Any] | None = None
    latencies: list[dict[str, float | None]] = field(default_factory=list)  # each timed turn's stages, s
    due_at: datetime | None = None

    def missing(self) -> list[str]:
        have = {
            "session": self.ended is not None,
            "transcript": any(r.get("kind") == "transcript" for r in self.recordings),
            "analysis": self.analysis is not None,
        }
        return [p for p in PARTS if not have[p]]

    def ready(self, now: datetime) -> bool:
        """Complete, or its wait is over (which starts when the session ends)."""
        if self.ended is None:
            return False
        return not self.missing() or (self.due_at is not None and now >= self.due_at)


class Links(Protocol):
    """Where a report's reader fetches a recording (a signed link where the store makes them)."""

    async def link(self, recording_id: str) -> dict[str, Any]: ...


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    cuts = quantiles(ordered, n=100, method="inclusive") if len(ordered) > 1 else [ordered[0]] * 99
    return {"p50_s": round(cuts[49], 4), "p95_s": round(cuts[94], 4), "max_s": round(ordered[-1], 4)}


def latency_summary(latencies: list[dict[str, float | None]]) -> dict[str, Any] | None:
    """Per stage (transcription, end of turn, LLM first token, TTS first byte, end to end), over the turns that
    timed it: p50, p95 and max in seconds, and how many turns were timed."""
    if not latencies:
        return None
    stages: dict[str, list[float]] = {}
    for turn in latencies:
        for stage, value in turn.items():
            if value is not None:
                stages.setdefault(stage, []).append(value)
    return {"turns": len(latencies), **{stage: _percentiles(values) for stage, values in sorted(stages.items())}}


async def build(row: ReportRow, links: Links | None) -> dict[str, Any]:
    ended = row.ended or {}
    analysis = row.analysis or {}
    recordings = []
    for rec in row.recordings:
        found = {"recording_id": rec["recording_id"], "kind": rec["kind"], "content_type": rec["content_type"],
                 "bytes": rec["bytes"], "sha256": rec["sha256"]}  # fmt: skip
        if links is not None:
            found |= await links.link(rec["recording_id"])
        recordings.append(found)
    return {
        "conversation_id": row.conversation_id,
        "session_id": row.session_id,
        "room_name": ended.get("room_name"),
        "started_at": ended.get("started_at"),
        "ended_at": ended.get("ended_at"),
        "duration_seconds": ended.get("duration_seconds"),
        "end_reason": ended.get("reason"),
        "participants": ended.get("participants", []),
        "turns": ended.get("messages", []),
        "turns_truncated": ended.get("messages_truncated", False),
        "usage": ended.get("usage"),
        "recordings": recordings,
        "analysis": {
            k: analysis[k]
            for k in ("revision", "status", "analyzer", "summary", "data_schema", "data", "evaluation", "failure")
            if k in analysis
        }
        or None,
        "cost": analysis.get("cost"),
        "latency": latency_summary(row.latencies),
        "missing": row.missing(),
    }
