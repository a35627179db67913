"""Stream, consumer and bucket specifications: what `parley provision` creates and services bind to.

Plain data, no NATS client here: the runtime turns these into JetStream configs. Changing a spec is a
deploy-time operation; `parley provision` applies it idempotently.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from parley_contracts._base import Event
from parley_contracts.agent import (
    AgentHandoff,
    SessionEnded,
    SessionStarted,
    TurnCompleted,
)
from parley_contracts.catalogue import EVENT_TYPES
from parley_contracts.codec import SUBJECT_PREFIX, subject_filter
from parley_contracts.erasure import ConversationErased
from parley_contracts.insights import SessionAnalyzed

DAY = 24 * 3600

VOICE_STREAM_NAME = "VOICE"
DLQ_STREAM_NAME = "DLQ"
ADVISORY_STREAM_NAME = "VOICE_ADVISORIES"
DLQ_COPIER_DURABLE = "dlq-copier"
DLQ_WATCH_DURABLE = "history-dlq"
AUDIO_BUCKET = "voice-audio"
AGENT_LEASE_BUCKET = "agent-leases"
CONSOLE_SIGNOUT_BUCKET = "console-signouts"
CONSOLE_SESSION_MAX_SECONDS = 24 * 3600  # the longest a console session lives, and so a sign-out is kept
HISTORY_RECENT_SUBJECT = "history.v1.recent"
HISTORY_SESSION_TURNS_SUBJECT = "history.v1.session_turns"


class StreamSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    subjects: list[str]
    retention: Literal["limits", "workqueue"] = "limits"
    max_age_seconds: int = 30 * DAY
    duplicate_window_seconds: int = 600
    max_msg_size: int = 1024 * 1024
    replicas: int = 1
    # Fast-ingest batch publishing (ADR-50): the outbox stores a window with one answer instead of one per
    # message. Applied only where the server supports it (nats-server 2.14+, JetStream API level 3).
    batch_publish: bool = False
    description: str = ""


class ConsumerSpec(msgspec.Struct, frozen=True, kw_only=True):
    durable: str
    stream: str
    filter_subjects: list[str]
    # Bounded: a poison message that escapes `term` still ends in the DLQ instead of looping forever.
    # With naks that back off to 60 s this tolerates a dependency outage of about half an hour.
    max_deliver: int = 40
    # How long a fetched, unacked message waits before redelivery (a crashed replica's batch).
    ack_wait_seconds: int = 30
    # Must be >= fetch batch x (batches in flight + 1) x replicas, or replicas starve each other.
    max_ack_pending: int = 10_000
    # Subject filters (`voice.<event>.v<N>.*`) of the types the service handles. Empty: everything the
    # filter passes. When set, the filter may be wider than these and the consumer acks the rest unread.
    handles: list[str] = []
    description: str = ""


class KvBucketSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    max_age_seconds: int  # a key not written for this long is gone
    history: int = 1
    replicas: int = 1
    description: str = ""


class ObjectBucketSpec(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    max_age_seconds: int = 7 * DAY
    replicas: int = 1
    description: str = ""


def _filters(*types: type[Event]) -> list[str]:
    return [subject_filter(t) for t in types]


def voice_stream(*, replicas: int = 1, max_age_days: int = 30) -> StreamSpec:
    return StreamSpec(
        name=VOICE_STREAM_NAME,
        subjects=["voice.>"],
        max_age_seconds=max_age_days * DAY,
        replicas=replicas,
        batch_publish=True,
        description="Parley conversation events (voice.<event>.v<N>.<conversation_id>)",
    )


def dlq_stream(*, replicas: int = 1, max_age_days: int = 90) -> StreamSpec:
    return StreamSpec(
        name=DLQ_STREAM_NAME,
        subjects=["dlq.>"],
        max_age_seconds=max_age_days * DAY,
        # DLQ copies carry the original headers and payload: allow a little headroom for the reason.
        max_msg_size=2 * 1024 * 1024,
        replicas=replicas,
        description="Dead letters: dlq.<original subject>, with the reason in headers",
    )


def advisory_stream(*, replicas: int = 1) -> StreamSpec:
    adv = "$JS.EVENT.ADVISORY.CONSUMER"
    return StreamSpec(
        name=ADVISORY_STREAM_NAME,
        subjects=[
            f"{adv}.MAX_DELIVERIES.{VOICE_STREAM_NAME}.>",
            f"{adv}.MSG_TERMINATED.{VOICE_STREAM_NAME}.>",
        ],
        retention="workqueue",
        max_age_seconds=30 * DAY,
        replicas=replicas,
        description="Captured JetStream advisories; the DLQ copier turns them into dead letters",
    )


def service_consumers(*, ack_wait_seconds: int = 30, max_deliver: int = 40) -> dict[str, ConsumerSpec]:
    """One durable pull consumer per service, filtered on the types it handles."""
    specs = {
        "history": ConsumerSpec(
            durable="history",
            stream=VOICE_STREAM_NAME,
            # One wide filter, not three subject filters: with several, the server spent almost twice as
            # long per message on this busiest consumer (32 vs 18 us of nats-server CPU per turn in the end
            # to end benchmark). The few events history does not handle (participants, rooms, recordings:
            # a handful per call, against dozens of turns) are acked unread.
            filter_subjects=["voice.>"],
            handles=_filters(SessionStarted, TurnCompleted, AgentHandoff, SessionEnded, SessionAnalyzed),
            description="history: conversations, sessions and turns into Postgres",
        ),
        "rooms": ConsumerSpec(
            durable="rooms",
            stream=VOICE_STREAM_NAME,
            filter_subjects=_filters(SessionStarted, SessionEnded, ConversationErased),
            description="rooms: room status from the agent's session events; erasures scrub rooms",
        ),
        "recordings": ConsumerSpec(
            durable="recordings",
            stream=VOICE_STREAM_NAME,
            filter_subjects=_filters(SessionEnded, ConversationErased),
            description="recordings: transcripts and audio into blob storage",
        ),
        "insights": ConsumerSpec(
            durable="insights",
            stream=VOICE_STREAM_NAME,
            filter_subjects=_filters(SessionEnded),
            description="insights: each session's analysis and cost, once it ended",
        ),
        "webhooks": ConsumerSpec(
            durable="webhooks",
            stream=VOICE_STREAM_NAME,
            filter_subjects=["voice.>"],  # any type an endpoint may ask for, and the parts of each call report
            description="webhooks: events and call reports to the endpoints that asked for them",
        ),
    }
    return {
        name: msgspec.structs.replace(spec, ack_wait_seconds=ack_wait_seconds, max_deliver=max_deliver)
        for name, spec in specs.items()
    }


def dlq_copier_consumer() -> ConsumerSpec:
    return ConsumerSpec(
        durable=DLQ_COPIER_DURABLE,
        stream=ADVISORY_STREAM_NAME,
        filter_subjects=[],
        max_deliver=100,
        description="copies dead-lettered VOICE messages to dlq.<subject>",
    )


def dlq_watch_consumer() -> ConsumerSpec:
    return ConsumerSpec(
        durable=DLQ_WATCH_DURABLE,
        stream=DLQ_STREAM_NAME,
        filter_subjects=[f"dlq.{SUBJECT_PREFIX}.>"],
        description="history: notices dead letters of erased conversations, so they are purged again",
    )


def audio_bucket(*, replicas: int = 1, max_age_days: int = 7) -> ObjectBucketSpec:
    return ObjectBucketSpec(
        name=AUDIO_BUCKET,
        max_age_seconds=max_age_days * DAY,
        replicas=replicas,
        description="Call audio handed from the agent to the recordings service",
    )


def agent_lease_bucket(*, replicas: int = 1) -> KvBucketSpec:
    return KvBucketSpec(
        name=AGENT_LEASE_BUCKET,
        max_age_seconds=3600,  # a lease is renewed every few seconds: an hour-old one belongs to no agent
        replicas=replicas,
        description="One agent per room: the session holding each room's lease (parley_agent.lease)",
    )


def console_signout_bucket(*, replicas: int = 1) -> KvBucketSpec:
    return KvBucketSpec(
        name=CONSOLE_SIGNOUT_BUCKET,
        max_age_seconds=CONSOLE_SESSION_MAX_SECONDS,  # a session signed out outlives itself by nothing
        replicas=replicas,
        description="Console sessions signed out before they expired, so every replica refuses them",
    )


def erasable_subjects(conversation_id: str) -> list[str]:
    """The subjects, in VOICE and in DLQ, holding a conversation's events, for purging on erasure.

    One exact subject per event type (no wildcard for the type), leaving out `conversation_erased` itself:
    subscribers that have not yet seen the erasure still must. A type added to the catalogue is covered.
    """
    voice = [f"{SUBJECT_PREFIX}.{t.tag()}.{conversation_id}" for t in EVENT_TYPES if t is not ConversationErased]
    return voice + [f"dlq.{subject}" for subject in voice]
