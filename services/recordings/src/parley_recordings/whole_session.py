"""A very long call's transcript, whole: the summary's missing earlier messages, from history.

A `session_ended` summary holds the newest messages within 512 kB (`messages_truncated` when some were
left out: a call of about three hours or more). Every turn is in history, which serves a session's earlier
turns (`history.v1.session_turns`); recordings asks for those below the summary's first message before it
writes the transcript documents, so they hold the whole call. Until history holds every one of them (it
may lag behind the stream, or be down) that session waits (`WaitingForHistory`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec

import parley_contracts as c


class WaitingForHistory(Exception):
    """History lacks some of the session's earlier turns, or does not answer. Not a `TransientError`, which
    would pause the whole consumer: the consume loop retries this session alone, with growing delays (for
    about 35 minutes, then it is dead-lettered with this reason), while the other sessions go on."""


# (session id, below this seq) -> the newest turns of the session below it that fit a reply, oldest first.
EarlierTurns = Callable[[str, int], Awaitable[list[c.MessageSummary]]]


async def whole_session(event: c.SessionEnded, earlier_turns: EarlierTurns) -> c.SessionEnded:
    """`event` with every message of the session, however long; itself when its summary is whole."""
    if not event.messages_truncated:
        return event
    first = event.messages[0].seq if event.messages else event.turn_count + 1
    earlier: list[c.MessageSummary] = []
    while (before := earlier[0].seq if earlier else first) > 1:
        page = [m for m in await earlier_turns(event.session_id, before) if m.seq < before]
        if not page:
            break
        earlier[:0] = page
    if [m.seq for m in earlier] != list(range(1, first)):
        raise WaitingForHistory(f"history holds {len(earlier)} of the session's {first - 1} earlier turns so far")
    return msgspec.structs.replace(event, messages=[*earlier, *event.messages], messages_truncated=False)
