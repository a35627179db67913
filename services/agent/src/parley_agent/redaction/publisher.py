"""The call's `publish`, redacting first, off the call's event loop, in order.

The tracker publishes from the session's callbacks and must not wait; Presidio takes milliseconds per turn.
Each event is redacted on one thread per process (FIFO, so a call's events keep their order) and handed to the
outbox back on the loop. `drain()` waits for what is still being redacted: the call awaits it before the outbox
closes, so the end of a call never overtakes its last turns. A redaction that fails (a bug) publishes the event
with its text withheld, never with the raw text.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

import msgspec

import parley_contracts as c
from parley_agent.redaction.audio import SilencedSpans
from parley_agent.redaction.redactor import Redactor
from parley_agent.tracker import Publish

logger = logging.getLogger(__name__)
_THREAD = ThreadPoolExecutor(max_workers=1, thread_name_prefix="redaction")
WITHHELD = "[REDACTION_FAILED]"


def redact_event(redactor: Redactor, event: c.Event) -> c.Event:
    """The event as it may leave the call: every text that carries what was said, masked."""
    if isinstance(event, c.TurnCompleted):
        done = redactor.redact(event.text)
        words = redactor.words(event.text, event.words, done.spans) if event.words else event.words
        return msgspec.structs.replace(event, text=done.text, redactions=done.redactions, words=words)
    if isinstance(event, c.SessionEnded):
        messages = []
        for m in event.messages:
            done = redactor.redact(m.text)
            messages.append(msgspec.structs.replace(m, text=done.text, redactions=done.redactions))
        return msgspec.structs.replace(event, messages=messages)
    if isinstance(event, c.AgentHandoff) and event.reason:  # the LLM's words, which may quote the caller
        return msgspec.structs.replace(event, reason=redactor.redact(event.reason).text)
    return event


def withheld(event: c.Event) -> c.Event:
    if isinstance(event, c.TurnCompleted):
        return msgspec.structs.replace(event, text=WITHHELD, words=None, redactions=[])
    if isinstance(event, c.SessionEnded):
        messages = [msgspec.structs.replace(m, text=WITHHELD, redactions=[]) for m in event.messages]
        return msgspec.structs.replace(event, messages=messages)
    if isinstance(event, c.AgentHandoff):
        return msgspec.structs.replace(event, reason=None)
    return event


def masked_words(before: c.Event, after: c.Event) -> list[c.WordTiming] | None:
    """The caller's words a redaction masked (their timings say what to silence), None when it had no timings."""
    if not isinstance(before, c.TurnCompleted) or not isinstance(after, c.TurnCompleted) or not after.words:
        return None
    return [new for old, new in zip(before.words or [], after.words, strict=False) if old.word != new.word]


def _safely(redactor: Redactor, event: c.Event) -> tuple[c.Event, list[c.WordTiming] | None]:
    try:
        redacted = redact_event(redactor, event)
        return redacted, masked_words(event, redacted)
    except Exception:
        logger.exception("redaction failed; the event goes out with its text withheld")
        return withheld(event), None


class RedactingPublisher:
    def __init__(self, publish: Publish, redactor: Redactor) -> None:
        self.publish = publish
        self.redactor = redactor
        self.silences = SilencedSpans()  # where the recording is to be silenced
        self._last: asyncio.Future[tuple[c.Event, list[c.WordTiming] | None]] | None = None

    def __call__(self, event: c.Event) -> None:
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(_THREAD, _safely, self.redactor, event)
        future.add_done_callback(self._emit)
        self._last = future

    def _emit(self, future: asyncio.Future[tuple[c.Event, list[c.WordTiming] | None]]) -> None:
        if future.cancelled():
            return
        event, words = future.result()
        if isinstance(event, c.TurnCompleted):
            self.silences.add_turn(event, words)
        self.publish(event)

    async def drain(self) -> None:
        """Returns once every event given so far is redacted and handed on."""
        if self._last is not None:
            await asyncio.shield(self._last)
