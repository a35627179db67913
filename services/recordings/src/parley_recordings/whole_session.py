"""A very long call's transcript, whole: the summary's missing earlier messages, from history.

A `session_ended` summary holds the newest messages within 512 kB (`messages_truncated` when some were
left out: a call of about three hours or more). Every turn is in history, which serves a session's earlier
turns (`history.v1.session_turns`); recordings asks for those below the summary's first message before it
writes the transcript documents, so they hold the whole call. Until history holds every one of them (it
may lag behind the stream, or be down) that session waits (`WaitingForHistory`), but not forever: one turn
may never reach history (a text Postgres cannot store is dead-lettered), so after `WAIT_DELIVERIES` the
documents are written with what there is (`settle`), still marked `messages_truncated`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import msgspec

import parley_contracts as c

logger = logging.getLogger(__name__)

# Deliveries of a session_ended that wait for history (1 + 2 + 4 ... 60 s apart: about 15 minutes).
WAIT_DELIVERIES = 20


class WaitingForHistory(Exception):
    """History lacks some of the session's earlier turns, or does not answer. Not a `TransientError`, which
    would pause the whole consumer: the consume loop retries this session alone, with growing delays, while
    the other sessions go on."""


# (session id, below this seq) -> the newest turns of the session below it that fit a reply, oldest first.
EarlierTurns = Callable[[str, int], Awaitable[list[c.MessageSummary]]]


async def whole_session(event: c.SessionEnded, earlier_turns: EarlierTurns, *, settle: bool = False) -> c.SessionEnded:
    """`event` with every message of the session, however long; itself when its summary is whole. With
    `settle`, what history holds when it lacks some (or the summary alone when it does not answer)."""
    if not event.messages_truncated:
        return event
    first = event.messages[0].seq if event.messages else event.turn_count + 1
    earlier: list[c.MessageSummary] = []
    try:
        while (before := earlier[0].seq if earlier else first) > 1:
            page = [m for m in await earlier_turns(event.session_id, before) if m.seq < before]
            if not page:
                break
            earlier[:0] = page
    except WaitingForHistory:
        if not settle:
            raise
    whole = [m.seq for m in earlier] == list(range(1, first))
    if not whole:
        missing = f"history holds {len(earlier)} of the session's {first - 1} earlier turns"
        if not settle:
            raise WaitingForHistory(f"{missing} so far")
        logger.warning("transcript written without some earlier turns", extra={"session_id": event.session_id,
                                                                             "reason": missing})  # fmt: skip
    return msgspec.structs.replace(event, messages=[*earlier, *event.messages], messages_truncated=not whole)
