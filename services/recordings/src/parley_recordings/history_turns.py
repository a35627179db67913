"""Recordings asks history for a session's earlier turns (`history.v1.session_turns`) over NATS.

No responder, a timeout or an error reply: the session's transcript waits for history (`WaitingForHistory`).
"""

from __future__ import annotations

import msgspec
import nats.errors
from nats.aio.client import Client

import parley_contracts as c
from parley_contracts.history import SessionTurnsReply, SessionTurnsRequest
from parley_contracts.streams import HISTORY_SESSION_TURNS_SUBJECT
from parley_recordings.whole_session import EarlierTurns, WaitingForHistory

_reply = msgspec.json.Decoder(SessionTurnsReply)


def nats_earlier_turns(nc: Client, *, timeout: float = 5.0) -> EarlierTurns:
    async def earlier_turns(session_id: str, before_seq: int) -> list[c.MessageSummary]:
        request = msgspec.json.encode(SessionTurnsRequest(session_id=session_id, before_seq=before_seq))
        try:
            msg = await nc.request(HISTORY_SESSION_TURNS_SUBJECT, request, timeout=timeout)
        except (TimeoutError, nats.errors.Error, OSError) as exc:
            raise WaitingForHistory(
                f"history did not answer {HISTORY_SESSION_TURNS_SUBJECT}: {type(exc).__name__}"
            ) from exc
        headers = msg.headers or {}
        if code := headers.get("Nats-Service-Error-Code"):
            raise WaitingForHistory(f"history answered {code}: {headers.get('Nats-Service-Error', '')}")
        try:
            turns = _reply.decode(msg.data).turns
        except (msgspec.ValidationError, msgspec.DecodeError) as exc:
            raise WaitingForHistory(f"history's reply unreadable: {exc}") from exc
        return [c.MessageSummary(seq=t.seq, role=t.role, text=t.text, at=t.at) for t in turns]

    return earlier_turns
