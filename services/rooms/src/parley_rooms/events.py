"""What rooms does with what it hears: LiveKit's verified webhooks, and the agent's session events from VOICE.

Webhooks: a room finished, a participant joined or left. Participants are stored (agent failover reads them)
and announced as LiveKit saw them, `room_participant_joined.v1` / `room_participant_left.v1`: the agent
publishes its own view as `participant_joined.v1`, so no type carries one fact twice. A webhook for a room
whose conversation was erased is recorded and changes nothing else; a replayed one (same LiveKit event id)
changes and publishes nothing: its receipt is stored with its effects, and the events it publishes get ids
derived from the webhook's, so JetStream de-duplicates them too.

Session events: each contributes facts about its session (room, start, end), merged so that duplicates and
any order end in the same state. `conversation_erased` scrubs the conversation's rooms; applying it again
changes nothing.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import parley_contracts as c
from parley_rooms.ports import Publish, RoomStore, RoomView, ScrubbedRoom, SessionFact

logger = logging.getLogger(__name__)

PRODUCER = "rooms"
_NAMESPACE = uuid.UUID("6a3c2b8e-1f4d-4c53-9a8e-2d1f0b7c5e91")
KINDS = {0: "standard", 1: "ingress", 2: "egress", 3: "sip", 4: "agent"}

# Replace a room's metadata in LiveKit (the gateway's `replace_metadata`).
ReplaceMetadata = Callable[[str, dict[str, object]], Awaitable[None]]


@dataclass(frozen=True)
class Webhook:
    """The parts of a LiveKit webhook event rooms acts on (the gateway turns livekit-api's into this)."""

    id: str
    event: str  # room_finished | participant_joined | participant_left | ...
    room_name: str
    room_sid: str = ""
    created_at: int = 0  # Unix seconds
    identity: str = ""
    kind: int = 0

    @property
    def at(self) -> datetime:
        return datetime.fromtimestamp(self.created_at, UTC) if self.created_at else datetime.now(UTC)

    @property
    def receipt_id(self) -> str:
        return self.id or f"{self.event}:{self.room_name}:{self.identity}:{self.created_at}"


def _event_id(webhook_id: str, suffix: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{webhook_id}:{suffix}")


async def apply_webhook(hook: Webhook, *, store: RoomStore, publish: Publish) -> bool:
    """Apply one verified webhook; False when it was a replay or is about a room Parley does not own."""
    at, receipt = hook.at, hook.receipt_id
    out: list[c.Event] = []
    async with store.write() as tx:
        # Locked first, so an erasure of its conversation either committed before (seen here) or waits.
        room = await tx.get_room(hook.room_name, lock=True) if hook.room_name else None
        if room is None or not await tx.first_receipt(receipt, hook.event, at):
            return False
        if hook.room_sid:
            await tx.set_room_sid(hook.room_name, hook.room_sid)
        if hook.event == "room_finished" and await tx.finish_room(hook.room_name, at, "room_finished"):
            out.append(_room_finished(hook, room, receipt, at))
        elif hook.event in ("participant_joined", "participant_left") and room.erased_at is None:
            # Once the conversation is erased, identities are neither stored nor published again.
            kind = KINDS.get(hook.kind, "unknown")
            joined = hook.event == "participant_joined"
            record = tx.participant_joined if joined else tx.participant_left
            await record(hook.room_name, hook.identity, kind, at)
            event_type = c.RoomParticipantJoined if joined else c.RoomParticipantLeft
            out.append(
                event_type(
                    event_id=_event_id(receipt, "p"),
                    occurred_at=at,
                    conversation_id=room.conversation_id,
                    producer=PRODUCER,
                    session_id=room.agent_session_id,
                    room_name=hook.room_name,
                    identity=hook.identity,
                    kind=kind,
                    at=at,
                )
            )
    for event in out:  # after the commit: nothing is announced that is not stored
        publish(event)
    return True


def _room_finished(hook: Webhook, room: RoomView, receipt: str, at: datetime) -> c.RoomFinished:
    return c.RoomFinished(
        event_id=_event_id(receipt, "room"),
        occurred_at=at,
        conversation_id=room.conversation_id,
        producer=PRODUCER,
        session_id=room.agent_session_id,
        room_name=hook.room_name,
        room_sid=hook.room_sid or room.sid,
        at=at,
    )


def session_facts(events: Sequence[c.Event]) -> list[SessionFact]:
    facts: dict[str, SessionFact] = {}
    for event in events:
        if not isinstance(event, c.SessionStarted | c.SessionEnded):
            continue
        fact = facts.setdefault(event.session_id, SessionFact(event.session_id, event.conversation_id))
        if isinstance(event, c.SessionStarted):
            fact.room_name = event.room_name
            fact.started_at = event.started_at
        elif event.reason == c.AGENT_LOST and fact.end_reason not in (None, c.AGENT_LOST):
            continue  # history's end for a lost agent never replaces the agent's own (nor in the store)
        else:
            fact.room_name = fact.room_name or event.room_name
            fact.started_at = fact.started_at or event.started_at
            fact.ended_at = event.ended_at
            fact.end_reason = event.reason
            fact.duration = event.duration_seconds
    return list(facts.values())


async def apply_session_events(
    events: Sequence[c.Event], *, store: RoomStore, replace_metadata: ReplaceMetadata | None = None
) -> None:
    """Apply a batch in one transaction: session facts merged, erased conversations scrubbed.

    After the commit, an erased room that may still be live in LiveKit gets its metadata replaced by the
    conversation id alone, best effort: LiveKit drops it when the room closes anyway."""
    facts = session_facts(events)
    erased = [e.conversation_id for e in events if isinstance(e, c.ConversationErased)]
    scrubbed: list[ScrubbedRoom] = []
    if facts or erased:
        async with store.write() as tx:
            if facts:
                await tx.merge_sessions(facts)
            scrubbed = await tx.erase_conversations(erased, datetime.now(UTC))
    if replace_metadata is None:
        return
    for room in scrubbed:
        if room.finished:
            continue
        try:
            # What a re-dispatched agent reads stays.
            await replace_metadata(room.name, {"conversation_id": room.conversation_id})
        except Exception as exc:
            logger.warning("could not scrub the live room's metadata", extra={"room": room.name, "error": repr(exc)})
