"""Turns what happens in an AgentSession into CallState updates and contract events.

`publish` is `Outbox.emit` in production and `list.append` in tests: it must not block. Everything
here runs on the session's event loop from framework callbacks, so nothing here awaits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from livekit.agents import AgentSession
from livekit.agents.llm import AgentHandoff, ChatMessage
from livekit.agents.metrics.usage import AgentSessionUsage
from livekit.agents.voice.events import CloseEvent, ConversationItemAddedEvent, SessionUsageUpdatedEvent
from opentelemetry import trace

import parley_contracts as c
from parley_agent import usage as usage_of
from parley_agent.state import CallState
from parley_runtime.observability.metrics import TURN_LATENCY

logger = logging.getLogger(__name__)
tracer = trace.get_tracer("parley.agent")

Publish = Callable[[c.Event], None]
PRODUCER = "agent"


def _ts(epoch: float | None) -> datetime | None:
    return datetime.fromtimestamp(epoch, UTC) if epoch else None


def turn_metrics(metrics: Mapping[str, Any], *, answered_at: float | None = None) -> c.TurnMetrics | None:
    """The per-turn latencies the framework reports on the message (ChatMessage.metrics). `answered_at`: when
    the caller stopped speaking, for a reply the framework does not time (a new agent's first words after a
    handoff answer the caller as much as any reply)."""

    def pick(key: str) -> float | None:
        value = metrics.get(key)
        return float(value) if isinstance(value, int | float) and value >= 0 else None

    if pick("e2e_latency") is None and answered_at is not None and pick("started_speaking_at") is not None:
        metrics = {**metrics, "e2e_latency": metrics["started_speaking_at"] - answered_at}

    m = c.TurnMetrics(
        transcription_delay=pick("transcription_delay"),
        end_of_turn_delay=pick("end_of_turn_delay"),
        llm_ttft=pick("llm_node_ttft"),
        tts_ttfb=pick("tts_node_ttfb"),
        e2e_latency=pick("e2e_latency"),
    )
    return (
        m
        if any(
            v is not None for v in (m.transcription_delay, m.end_of_turn_delay, m.llm_ttft, m.tts_ttfb, m.e2e_latency)
        )
        else None
    )


class CallTracker:
    """Owns the call's state and emits the session's events, each exactly once per call."""

    def __init__(self, state: CallState, publish: Publish, *, agent_name: str) -> None:
        self.state = state
        self.publish = publish
        self.agent_name = agent_name
        self.usage: AgentSessionUsage | None = None
        self._usage_at_last_turn = c.Usage()
        # Why the next handoff happens: set by the tool that hands over, read when the framework reports it.
        self.pending_handoff_reason: str | None = None
        self._heard: list[tuple[str, float, float]] = []  # the recognizer's words since the last user turn
        self._caller_stopped_at: float | None = None  # the last user turn's end, until a reply answers it
        self.started = False
        self.ended = False

    def _envelope(self, at: datetime | None = None) -> dict[str, Any]:
        return {
            "event_id": c.new_event_id(),
            "occurred_at": at or c.utcnow(),
            "conversation_id": self.state.conversation_id,
            "session_id": self.state.session_id,
            "producer": PRODUCER,
        }

    def start(
        self,
        *,
        room_sid: str | None,
        metadata: dict[str, str] | None = None,
        resumed_from: str | None = None,
        turns_loaded: int | None = None,
        history_preload: c.HistoryPreload | None = None,
    ) -> None:
        if self.started:
            return
        self.started = True
        s = self.state
        self.publish(
            c.SessionStarted(
                **self._envelope(),
                room_name=s.room_name,
                room_sid=room_sid,
                agent_name=self.agent_name,
                user_id=s.user_id,
                started_at=s.session_start,
                metadata=metadata,
                resumed_from=resumed_from,
                turns_loaded=turns_loaded,
                history_preload=history_preload,
            )
        )

    def attach(self, session: AgentSession[Any]) -> None:
        session.on("conversation_item_added", self._on_item)
        session.on("session_usage_updated", self._on_usage)

    def participant_joined(
        self,
        identity: str,
        kind: str,
        at: datetime | None = None,
        *,
        metadata: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> None:
        at = at or c.utcnow()
        metadata, kept = bounded_metadata(metadata), bounded_attributes(attributes or {})
        if self.state.participant_joined(identity, kind, at, metadata, kept):
            self.publish(
                c.ParticipantJoined(
                    **self._envelope(), identity=identity, kind=kind, at=at, metadata=metadata, attributes=kept
                )
            )

    def heard(self, words: list[tuple[str, float, float]]) -> None:
        """Words the recognizer heard, with their times (Unix seconds): they go on the next user turn."""
        self._heard.extend(words)

    def _words(self, started_at: datetime | None) -> list[c.WordTiming] | None:
        heard, self._heard = self._heard, []
        if not heard:
            return None
        base = started_at.timestamp() if started_at else heard[0][1]
        timed = [
            c.WordTiming(word=w[:200], start=round(max(0.0, s - base), 3), end=round(max(0.0, e - base), 3))
            for w, s, e in heard
        ]
        return timed[: c.agent.MAX_TIMED_WORDS]

    def set_handoff_reason(self, reason: str) -> None:
        """Why the handoff about to happen happens (the transfer tool knows; the framework reports it later)."""
        self.pending_handoff_reason = reason

    def handed_off(self, to_agent: str, reason: str | None = None, at: datetime | None = None) -> None:
        """The conversation passed to another agent (`agent_handoff.v1`); the turns after it are that agent's."""
        handoff = self.state.hand_off(to_agent, reason, at or c.utcnow())
        self.publish(
            c.AgentHandoff(
                **self._envelope(handoff.at),
                from_agent=handoff.from_agent,
                to_agent=handoff.to_agent,
                reason=handoff.reason,
                at=handoff.at,
            )
        )

    def participant_left(self, identity: str, at: datetime | None = None) -> None:
        at = at or c.utcnow()
        left = self.state.participant_left(identity, at)
        if left is not None:
            self.publish(c.ParticipantLeft(**self._envelope(), identity=identity, kind=left.kind, at=at))

    def _on_usage(self, ev: SessionUsageUpdatedEvent) -> None:
        self.usage = ev.usage

    def _on_item(self, ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, AgentHandoff):
            if item.old_agent_id is not None and item.new_agent_id != self.state.current_agent:
                self.handed_off(item.new_agent_id, self.pending_handoff_reason, _ts(item.created_at))
            elif item.old_agent_id is None:
                self.state.current_agent = item.new_agent_id  # the session's first agent: no handoff
            self.pending_handoff_reason = None
            return
        if not isinstance(item, ChatMessage) or item.role not in ("user", "assistant"):
            return  # system and tool items are not turns
        # A NUL (an LLM can emit one) says nothing and PostgreSQL cannot store it: history would dead-letter
        # the turn. The agent drops it, so the turn, the summary and every copy of them agree.
        text = (item.text_content or "").replace("\x00", "")
        if not text.strip():
            return
        self.record_message(item, text)

    def record_message(self, item: ChatMessage, text: str) -> c.TurnCompleted:
        metrics: Mapping[str, Any] = item.metrics or {}
        at = _ts(item.created_at) or c.utcnow()
        role: Literal["user", "assistant"] = "user" if item.role == "user" else "assistant"
        message = self.state.add_message(role, text, at, interrupted=bool(item.interrupted))
        usage = None
        if role == "assistant":
            totals = usage_of.totals(self.usage)
            usage = usage_of.since(totals, self._usage_at_last_turn)
            self._usage_at_last_turn = totals
        started_at = _ts(metrics.get("started_speaking_at"))
        answered_at, self._caller_stopped_at = self._caller_stopped_at, None
        if role == "user" and isinstance(metrics.get("stopped_speaking_at"), int | float):
            self._caller_stopped_at = metrics["stopped_speaking_at"]
        event = c.TurnCompleted(
            # The message's own time, the `at` it has in the session_ended summary: history serves it back
            # as the turn's time, so a transcript built from history matches one built from the summary.
            **self._envelope(message.at),
            seq=message.seq,
            role=role,
            text=text,
            interrupted=message.interrupted,
            started_at=started_at,
            ended_at=_ts(metrics.get("stopped_speaking_at")),
            language=getattr(item, "language", None) if isinstance(getattr(item, "language", None), str) else None,
            metrics=turn_metrics(metrics, answered_at=answered_at if role == "assistant" else None),
            usage=usage,
            agent=message.agent,
            words=self._words(started_at) if role == "user" else None,
        )
        # One trace per turn: this span is the root; the outbox captures it at emit, the publish and every
        # consumer's processing continue it. Ids and timings only: the text stays out of spans.
        with tracer.start_as_current_span(
            "agent.turn",
            attributes={
                "parley.conversation_id": event.conversation_id, "parley.session_id": event.session_id,
                "parley.turn.seq": event.seq, "parley.turn.role": role, "parley.turn.interrupted": message.interrupted,
            },
        ):  # fmt: skip
            self.publish(event)
        if event.metrics is not None:
            for stage in ("end_of_turn_delay", "transcription_delay", "llm_ttft", "tts_ttfb", "e2e_latency"):
                value = getattr(event.metrics, stage)
                if value is not None:
                    TURN_LATENCY.record(value, {"stage": stage})
        return event

    def finish(self, reason: str, *, recording: c.RecordingRef | None = None) -> c.SessionEnded | None:
        """Emit `session_ended` once; later calls (other exit paths) do nothing."""
        if self.ended:
            return None
        self.ended = True
        ended_at = c.utcnow()
        for p in self.state.still_present():
            self.participant_left(p.identity, ended_at)
        messages, truncated = self.state.summary_messages()
        s = self.state
        event = c.SessionEnded(
            **self._envelope(),
            reason=reason,
            started_at=s.session_start,
            ended_at=ended_at,
            duration_seconds=max(0.0, (ended_at - s.session_start).total_seconds()),
            turn_count=s.turn_count,
            participants=[
                c.ParticipantSummary(identity=p.identity, kind=p.kind, joined_at=p.joined_at, left_at=p.left_at)
                for p in s.participant_states.values()
            ],
            messages=[c.MessageSummary(seq=m.seq, role=m.role, text=m.text, at=m.at, agent=m.agent) for m in messages],
            usage=usage_of.totals(self.usage),
            recording=recording,
            messages_truncated=truncated,
            room_name=s.room_name,
            analysis_schema=s.analysis_schema,
            handoffs=[
                c.HandoffSummary(from_agent=h.from_agent, to_agent=h.to_agent, reason=h.reason, at=h.at)
                for h in s.handoffs
            ],
        )
        self.publish(event)
        return event


def bounded_metadata(metadata: str | None) -> str | None:
    """A participant's metadata, cut to what an event may carry."""
    return metadata[: c.agent.PARTICIPANT_METADATA_MAX] if metadata else None


def bounded_attributes(attributes: Mapping[str, str]) -> dict[str, str]:
    """A participant's attributes, as many as an event may carry, each key and value cut to its bound."""
    kept: dict[str, str] = {}
    for key, value in sorted(attributes.items()):
        if key and len(kept) < c.agent.ATTRIBUTES_MAX:
            kept[key[: c.agent.ATTRIBUTE_KEY_MAX]] = value[: c.agent.ATTRIBUTE_VALUE_MAX]
    return kept


def close_reason(ev: CloseEvent) -> str:
    return str(getattr(ev.reason, "value", ev.reason))
