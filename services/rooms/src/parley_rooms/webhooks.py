"""What a verified LiveKit webhook changes: room finished, participants, and the events published for it.

A participant webhook for a room whose conversation was erased (`erasure`) is recorded as received and
changes nothing else.

A replayed webhook (same LiveKit event id) changes nothing and publishes nothing: the receipt is
recorded in the same transaction as its effects, and published events get ids derived from the
webhook id, so JetStream de-duplicates them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from livekit import api
from sqlalchemy.ext.asyncio import AsyncEngine

import parley_contracts as c
from parley_rooms import store

PRODUCER = "rooms"
_NAMESPACE = uuid.UUID("6a3c2b8e-1f4d-4c53-9a8e-2d1f0b7c5e91")
_KINDS = {0: "standard", 1: "ingress", 2: "egress", 3: "sip", 4: "agent"}

Publish = Callable[[c.Event], None]


def _at(event: api.WebhookEvent) -> datetime:
    return datetime.fromtimestamp(event.created_at, UTC) if event.created_at else datetime.now(UTC)


def _event_id(webhook_id: str, suffix: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, f"{webhook_id}:{suffix}")


async def handle_webhook(event: api.WebhookEvent, engine: AsyncEngine, publish: Publish) -> bool:
    """Apply one verified webhook; False when it was a replay or is about a room Parley does not own."""
    name = event.room.name
    at = _at(event)
    webhook_id = event.id or f"{event.event}:{name}:{event.participant.identity}:{event.created_at}"
    async with engine.begin() as conn:
        # Locked first, so an erasure of its conversation either committed before (seen here) or waits.
        row = await store.get_room(conn, name, lock=True) if name else None
        if row is None:
            return False
        if not await store.first_receipt(conn, webhook_id, event.event, at):
            return False
        envelope = {
            "occurred_at": at,
            "conversation_id": row.conversation_id,
            "producer": PRODUCER,
        }
        # Participant events belong to a session; before the agent started, the room's sid stands in.
        session_id = row.agent_session_id or (event.room.sid or row.sid or name)
        out: list[c.Event] = []
        if event.room.sid:
            await store.set_room_sid(conn, name, event.room.sid)
        if event.event == "room_finished" and await store.finish_room(conn, name, at, "room_finished"):
            out.append(
                c.RoomFinished(
                    event_id=_event_id(webhook_id, "room"),
                    **envelope,
                    session_id=row.agent_session_id,
                    room_name=name,
                    room_sid=event.room.sid or row.sid,
                    at=at,
                )
            )
        elif event.event in ("participant_joined", "participant_left") and row.erased_at is None:
            # Once the conversation is erased, identities are neither stored nor published again.
            p = event.participant
            kind = _KINDS.get(int(p.kind), "unknown")
            if event.event == "participant_joined":
                await store.participant_joined(conn, name, p.identity, kind, at)
                out.append(
                    c.ParticipantJoined(
                        event_id=_event_id(webhook_id, "p"),
                        **envelope,
                        session_id=session_id,
                        identity=p.identity,
                        kind=kind,
                        at=at,
                    )
                )
            else:
                await store.participant_left(conn, name, p.identity, kind, at)
                out.append(
                    c.ParticipantLeft(
                        event_id=_event_id(webhook_id, "p"),
                        **envelope,
                        session_id=session_id,
                        identity=p.identity,
                        kind=kind,
                        at=at,
                    )
                )
    for e in out:  # after the commit: nothing is announced that is not stored
        publish(e)
    return True
