"""An event as a NATS message: its headers, the entries the outbox queues, and a direct publish.

The outbox queues a ready (subject, data, headers) entry, or an event it encodes only when sent: `emit()`
keeps the event itself and encodes it in the background publisher, off the caller's hot path; pre-encoded
messages (`emit_raw`) and entries read back from the spill file are already entries. A service that
publishes a few events and waits for each ack (recordings, history's erasures) uses `publish_event`.
"""

from __future__ import annotations

from nats.js import JetStreamContext

from parley_contracts import Event, encode, subject_for
from parley_runtime.observability import tracing

Entry = tuple[str, bytes, dict[str, str]]


def event_headers(event: Event) -> dict[str, str]:
    """The contract's headers: `Nats-Msg-Id` (the event id, for JetStream de-duplication) and content type."""
    return {"Nats-Msg-Id": str(event.event_id), "content-type": "application/json"}


async def publish_event(js: JetStreamContext, event: Event, *, timeout: float) -> None:
    """Publish one event under the current trace and wait until the stream has it."""
    headers = tracing.inject(event_headers(event))
    await js.publish(subject_for(event), encode(event), headers=headers, timeout=timeout)


class LazyEntry:
    """An emitted event not yet encoded; `trace` holds the traceparent captured at emit time."""

    __slots__ = ("event", "trace")

    def __init__(self, event: Event, trace: dict[str, str] | None) -> None:
        self.event = event
        self.trace = trace

    def entry(self) -> Entry:
        headers = event_headers(self.event)
        if self.trace:
            headers.update(self.trace)
        return subject_for(self.event), encode(self.event), headers


Queued = Entry | LazyEntry


def as_entry(item: Queued) -> Entry:
    return item.entry() if isinstance(item, LazyEntry) else item
