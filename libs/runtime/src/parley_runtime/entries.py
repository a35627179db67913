"""What the outbox queues: a ready (subject, data, headers) entry, or an event it encodes only when sent.

`emit()` keeps the event itself and encodes it in the background publisher, off the caller's hot path;
pre-encoded messages (`emit_raw`) and entries read back from the spill file are already entries.
"""

from __future__ import annotations

from parley_contracts import Event, encode, subject_for

Entry = tuple[str, bytes, dict[str, str]]


class LazyEntry:
    """An emitted event not yet encoded; `trace` holds the traceparent captured at emit time."""

    __slots__ = ("event", "trace")

    def __init__(self, event: Event, trace: dict[str, str] | None) -> None:
        self.event = event
        self.trace = trace

    def entry(self) -> Entry:
        headers = {"Nats-Msg-Id": str(self.event.event_id), "content-type": "application/json"}
        if self.trace:
            headers.update(self.trace)
        return subject_for(self.event), encode(self.event), headers


Queued = Entry | LazyEntry


def as_entry(item: Queued) -> Entry:
    return item.entry() if isinstance(item, LazyEntry) else item
