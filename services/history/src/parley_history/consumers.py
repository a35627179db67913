"""Transport only: bind the `history` durable and feed decoded batches to `handlers.persist`.

The durable's filter is wide (`voice.>`); events of the types history does not store are passed over
unread, but their conversation ids (from the subjects) go to `HistoryStore.note_late` first, so a late
participant, room or recording event of an erased conversation is purged too. `conversation_erased`
itself is left out: it stays in the stream on purpose.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from nats.aio.client import Client

from parley_contracts import ContractError, ConversationErased, conversation_of, subject_filter
from parley_contracts.streams import VOICE_STREAM_NAME, service_consumers
from parley_history.db import is_transient
from parley_history.handlers import HistoryStore, persist
from parley_runtime.consume import Consumer
from parley_runtime.handling import Delivery

DURABLE = "history"
_ERASURES = subject_filter(ConversationErased).removesuffix("*")


def _conversations(subjects: Sequence[str]) -> set[str]:
    ids = set()
    for subject in subjects:
        if not subject.startswith(_ERASURES):
            with contextlib.suppress(ContractError):  # a stray subject without one: nothing to purge
                ids.add(conversation_of(subject))
    return ids


def history_consumer(nc: Client, store: HistoryStore, *, batch_size: int, concurrency: int = 2) -> Consumer:
    async def handle(batch: Sequence[Delivery]) -> None:
        await persist([d.event for d in batch], store)

    async def passed_over(subjects: Sequence[str]) -> None:
        await store.note_late(_conversations(subjects))

    return Consumer(
        nc,
        nc.jetstream(),
        VOICE_STREAM_NAME,
        DURABLE,
        handle,
        batch_size=batch_size,
        concurrency=concurrency,
        is_transient=is_transient,
        handles=tuple(service_consumers()[DURABLE].handles),
        on_skipped=passed_over,
    )
