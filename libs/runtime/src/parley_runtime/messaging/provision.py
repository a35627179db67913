"""Idempotent create-or-update of everything Parley needs in JetStream.

`parley provision` runs this from `make dev`, from the tests and from a Helm hook Job. Services never
create streams or consumers themselves; they only bind. Running it twice in a row changes nothing the
second time: each object is compared with its spec and only created or updated when it differs.
"""

from __future__ import annotations

import logging
from typing import Literal

import msgspec
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    KeyValueConfig,
    ObjectStoreConfig,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from parley_contracts.streams import (
    ConsumerSpec,
    KvBucketSpec,
    ObjectBucketSpec,
    StreamSpec,
    advisory_stream,
    agent_lease_bucket,
    audio_bucket,
    console_signout_bucket,
    dlq_copier_consumer,
    dlq_stream,
    dlq_watch_consumer,
    service_consumers,
    voice_stream,
)

logger = logging.getLogger(__name__)

Action = Literal["created", "updated", "unchanged"]


class ProvisionSettings(msgspec.Struct, frozen=True, kw_only=True):
    """Cluster-dependent knobs: replicas (1 locally, 3 in a cluster) and retention."""

    replicas: int = 1
    voice_max_age_days: int = 30
    dlq_max_age_days: int = 90
    audio_max_age_days: int = 7
    ack_wait_seconds: int = 30
    max_deliver: int = 40
    duplicate_window_seconds: int = 600  # must cover the longest outbox retry horizon


class Change(msgspec.Struct, frozen=True):
    kind: str
    name: str
    action: Action


BATCH_PUBLISH_API_LEVEL = 3  # nats-server 2.14: fast-ingest batches


def _stream_config(spec: StreamSpec, api_level: int) -> StreamConfig:
    return StreamConfig(
        name=spec.name,
        description=spec.description or None,
        subjects=list(spec.subjects),
        retention=RetentionPolicy.WORK_QUEUE if spec.retention == "workqueue" else RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        max_age=float(spec.max_age_seconds),
        duplicate_window=float(spec.duplicate_window_seconds),
        max_msg_size=spec.max_msg_size,
        num_replicas=spec.replicas,
        allow_direct=True,
        # Off (None) on older servers, which would not know the field.
        allow_batched=True if spec.batch_publish and api_level >= BATCH_PUBLISH_API_LEVEL else None,
    )


def _stream_differs(current: StreamConfig, want: StreamConfig) -> bool:
    return (
        sorted(current.subjects or []) != sorted(want.subjects or [])
        or current.retention != want.retention
        or abs((current.max_age or 0) - (want.max_age or 0)) > 0.001
        or abs((current.duplicate_window or 0) - (want.duplicate_window or 0)) > 0.001
        or current.max_msg_size != want.max_msg_size
        or (current.num_replicas or 1) != (want.num_replicas or 1)
        or (current.description or None) != (want.description or None)
        or bool(current.allow_batched) != bool(want.allow_batched)
    )


def _consumer_config(spec: ConsumerSpec) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=spec.durable,
        description=spec.description or None,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=float(spec.ack_wait_seconds),
        max_deliver=spec.max_deliver,
        max_ack_pending=spec.max_ack_pending,
        filter_subjects=list(spec.filter_subjects) or None,
    )


def _consumer_differs(current: ConsumerConfig, want: ConsumerConfig) -> bool:
    current_filters = sorted(current.filter_subjects or ([current.filter_subject] if current.filter_subject else []))
    return (
        current_filters != sorted(want.filter_subjects or [])
        or abs((current.ack_wait or 0) - (want.ack_wait or 0)) > 0.001
        or current.max_deliver != want.max_deliver
        or current.max_ack_pending != want.max_ack_pending
        or (current.description or None) != (want.description or None)
    )


async def ensure_stream(js: JetStreamContext, spec: StreamSpec, *, api_level: int = 0) -> Change:
    """`api_level`: the server's JetStream API level (`account_info().api.level`), for features that need one."""
    want = _stream_config(spec, api_level)
    try:
        info = await js.stream_info(spec.name)
    except NotFoundError:
        await js.add_stream(want)
        return Change("stream", spec.name, "created")
    if not _stream_differs(info.config, want):
        return Change("stream", spec.name, "unchanged")
    await js.update_stream(want)
    return Change("stream", spec.name, "updated")


async def ensure_consumer(js: JetStreamContext, spec: ConsumerSpec) -> Change:
    want = _consumer_config(spec)
    try:
        info = await js.consumer_info(spec.stream, spec.durable)
    except NotFoundError:
        await js.add_consumer(spec.stream, want)
        return Change("consumer", f"{spec.stream}/{spec.durable}", "created")
    if not _consumer_differs(info.config, want):
        return Change("consumer", f"{spec.stream}/{spec.durable}", "unchanged")
    await js.add_consumer(spec.stream, want)  # add_consumer on an existing durable updates it
    return Change("consumer", f"{spec.stream}/{spec.durable}", "updated")


async def ensure_object_bucket(js: JetStreamContext, spec: ObjectBucketSpec) -> Change:
    stream = f"OBJ_{spec.name}"
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        await js.create_object_store(
            spec.name,
            config=ObjectStoreConfig(
                description=spec.description,
                ttl=float(spec.max_age_seconds),
                storage=StorageType.FILE,
                replicas=spec.replicas,
            ),
        )
        return Change("object_store", spec.name, "created")
    config = info.config
    if abs((config.max_age or 0) - spec.max_age_seconds) <= 0.001 and (config.num_replicas or 1) == spec.replicas:
        return Change("object_store", spec.name, "unchanged")
    config.max_age = float(spec.max_age_seconds)
    config.num_replicas = spec.replicas
    await js.update_stream(config)
    return Change("object_store", spec.name, "updated")


async def ensure_kv_bucket(js: JetStreamContext, spec: KvBucketSpec) -> Change:
    stream = f"KV_{spec.name}"
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        await js.create_key_value(
            KeyValueConfig(
                bucket=spec.name,
                description=spec.description,
                history=spec.history,
                ttl=float(spec.max_age_seconds),
                storage=StorageType.FILE,
                replicas=spec.replicas,
            )
        )
        return Change("kv", spec.name, "created")
    config = info.config
    if abs((config.max_age or 0) - spec.max_age_seconds) <= 0.001 and (config.num_replicas or 1) == spec.replicas:
        return Change("kv", spec.name, "unchanged")
    config.max_age = float(spec.max_age_seconds)
    config.num_replicas = spec.replicas
    await js.update_stream(config)
    return Change("kv", spec.name, "updated")


async def provision(js: JetStreamContext, settings: ProvisionSettings | None = None) -> list[Change]:
    """Create or update streams VOICE, DLQ and the advisory capture, the durable consumers and buckets."""
    s = settings or ProvisionSettings()
    level = (await js.account_info()).api.level or 0
    changes = [
        await ensure_stream(
            js,
            msgspec.structs.replace(
                voice_stream(replicas=s.replicas, max_age_days=s.voice_max_age_days),
                duplicate_window_seconds=s.duplicate_window_seconds,
            ),
            api_level=level,
        ),
        await ensure_stream(js, dlq_stream(replicas=s.replicas, max_age_days=s.dlq_max_age_days)),
        await ensure_stream(js, advisory_stream(replicas=s.replicas)),
    ]
    for spec in service_consumers(ack_wait_seconds=s.ack_wait_seconds, max_deliver=s.max_deliver).values():
        changes.append(await ensure_consumer(js, spec))
    changes.append(await ensure_consumer(js, dlq_copier_consumer()))
    changes.append(await ensure_consumer(js, dlq_watch_consumer()))
    changes.append(await ensure_object_bucket(js, audio_bucket(replicas=s.replicas, max_age_days=s.audio_max_age_days)))
    changes.append(await ensure_kv_bucket(js, agent_lease_bucket(replicas=s.replicas)))
    changes.append(await ensure_kv_bucket(js, console_signout_bucket(replicas=s.replicas)))
    for change in changes:
        logger.info("provisioned", extra={"kind": change.kind, "object": change.name, "action": change.action})
    return changes
