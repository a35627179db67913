"""The transcript documents written for each session: JSON (everything) and WebVTT (captions).

Pure functions of the `session_ended` event, so a redelivery writes byte-identical documents.
"""

from __future__ import annotations

from datetime import datetime

import msgspec

from parley_contracts import SessionEnded

_encoder = msgspec.json.Encoder(order="deterministic")


class TranscriptDocument(msgspec.Struct, kw_only=True):
    conversation_id: str
    session_id: str
    started_at: datetime
    ended_at: datetime
    duration_seconds: float
    turn_count: int
    reason: str
    participants: list[dict[str, object]]
    messages: list[dict[str, object]]
    messages_truncated: bool
    usage: dict[str, object] | None
    room_name: str | None = None
    handoffs: list[dict[str, object]] = []  # between the session's agents; each message names its agent


def transcript_json(event: SessionEnded) -> bytes:
    doc = TranscriptDocument(
        conversation_id=event.conversation_id,
        session_id=event.session_id,
        started_at=event.started_at,
        ended_at=event.ended_at,
        duration_seconds=event.duration_seconds,
        turn_count=event.turn_count,
        reason=event.reason,
        participants=[msgspec.to_builtins(p) for p in event.participants],
        messages=[msgspec.to_builtins(m) for m in event.messages],
        messages_truncated=event.messages_truncated,
        usage=msgspec.to_builtins(event.usage) if event.usage else None,
        room_name=event.room_name,
        handoffs=[msgspec.to_builtins(h) for h in event.handoffs],
    )
    return _encoder.encode(doc) + b"\n"


def _clock(seconds: float) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _cue_text(text: str) -> str:
    # A blank line ends a cue and "-->" starts timing: neither may appear inside the text.
    return " ".join(text.replace("-->", "→").split()).replace("&", "&amp;").replace("<", "&lt;")


def _voice(role: str, agent: str | None) -> str:
    """The cue's voice: the caller, or the agent that spoke by its name when the session had several."""
    return agent if role == "assistant" and agent and agent != "assistant" else role


def transcript_vtt(event: SessionEnded) -> bytes:
    """One cue per message, from its time to the next message (or the end of the session); a handoff between
    agents is a NOTE where it happened."""
    lines = ["WEBVTT", ""]
    messages = event.messages
    handoffs = sorted(event.handoffs, key=lambda h: h.at)
    for i, m in enumerate(messages):
        while handoffs and handoffs[0].at <= m.at:
            h = handoffs.pop(0)
            why = f": {_cue_text(h.reason)}" if h.reason else ""
            lines += [f"NOTE handoff from {h.from_agent or 'the first agent'} to {h.to_agent}{why}", ""]
        start = (m.at - event.started_at).total_seconds()
        end_at = messages[i + 1].at if i + 1 < len(messages) else event.ended_at
        end = max(start + 0.5, (end_at - event.started_at).total_seconds())
        voice = _voice(m.role, m.agent)
        lines += [str(m.seq), f"{_clock(start)} --> {_clock(end)}", f"<v {voice}>{_cue_text(m.text)}", ""]
    return "\n".join(lines).encode()
