"""Recordings asks history for a session's earlier turns (`history.v1.session_turns`) over NATS.

No usable answer (`parley_runtime.messaging.request.Unanswered`): the session's transcript waits for history
(`WaitingForHistory`).
"""

from __future__ import annotations

from nats.aio.client import Client

import parley_contracts as c
from parley_contracts.history import SessionTurnsReply, SessionTurnsRequest
from parley_contracts.streams import HISTORY_SESSION_TURNS_SUBJECT
from parley_recordings.whole_session import EarlierTurns, WaitingForHistory
from parley_runtime.messaging.request import Unanswered, ask


def nats_earlier_turns(nc: Client, *, timeout: float = 5.0) -> EarlierTurns:
    async def earlier_turns(session_id: str, before_seq: int) -> list[c.MessageSummary]:
        request = SessionTurnsRequest(session_id=session_id, before_seq=before_seq)
        try:
            reply = await ask(nc, HISTORY_SESSION_TURNS_SUBJECT, request, SessionTurnsReply, timeout=timeout)
        except Unanswered as exc:
            raise WaitingForHistory(f"history did not answer {HISTORY_SESSION_TURNS_SUBJECT}: {exc}") from exc
        return [c.MessageSummary(seq=t.seq, role=t.role, text=t.text, at=t.at) for t in reply.turns]

    return earlier_turns
