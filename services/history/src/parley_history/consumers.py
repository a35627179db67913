"""Transport only: bind history's durables, and hand decoded batches to `handlers.persist`.

`history` on VOICE: its filter is wide (`voice.>`); events of the types history does not store are
passed over unread, but their conversation ids (from the subjects) go to `HistoryStore.note_late` first,
so a late participant, room or recording event of an erased conversation is purged too.

`history-dlq` on DLQ reads only subjects: a dead letter made after an erasure's last purge (a consumer
that gave up on a late event) goes to `note_late` the same way instead of staying until the DLQ's max age.

`conversation_erased` itself is left out of both: it stays in the streams on purpose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Sequence

from nats.aio.client import Client

from parley_contracts import ContractError, ConversationErased, conversation_of, subject_filter
from parley_contracts.streams import DLQ_STREAM_NAME, DLQ_WATCH_DURABLE, service_consumers
from parley_history.db import is_transient, poison_reason
from parley_history.handlers import HistoryStore, persist
from parley_runtime.messaging.consume import Consumer, durable_consumer
from parley_runtime.messaging.handling import Delivery

DURABLE = "history"
_ERASURES = subject_filter(ConversationErased).removesuffix("*")
_DEAD = "dlq."


def _conversations(subjects: Sequence[str]) -> set[str]:
    ids = set()
    for subject in subjects:
        subject = subject.removeprefix(_DEAD)
        if not subject.startswith(_ERASURES):
            with contextlib.suppress(ContractError):  # a stray subject without one: nothing to purge
                ids.add(conversation_of(subject))
    return ids


def _noting_late(store: HistoryStore) -> Callable[[Sequence[str]], Awaitable[None]]:
    async def passed_over(subjects: Sequence[str]) -> None:
        await store.note_late(_conversations(subjects))

    return passed_over


def history_consumer(nc: Client, store: HistoryStore, *, batch_size: int, concurrency: int = 2) -> Consumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        await persist([d.event for d in batch], store)

    return durable_consumer(
        nc,
        DURABLE,
        handle,
        batch_size=batch_size,
        concurrency=concurrency,
        is_transient=is_transient,
        poison_reason=poison_reason,  # data Postgres refuses: dead-lettered at once
        handles=tuple(service_consumers()[DURABLE].handles),
        on_skipped=_noting_late(store),
    )


def dead_letter_watch(nc: Client, store: HistoryStore) -> Consumer:
    async def never(batch: Sequence[Delivery]) -> None:
        raise AssertionError("a subjects-only consumer hands nothing to its handler")

    return durable_consumer(
        nc,
        DLQ_WATCH_DURABLE,
        never,
        stream=DLQ_STREAM_NAME,
        batch_size=100,
        is_transient=is_transient,
        on_skipped=_noting_late(store),
        subjects_only=True,
    )
