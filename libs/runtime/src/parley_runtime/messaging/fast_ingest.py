"""JetStream fast-ingest batches (ADR-50, nats-server 2.14+): a window stored with one answer, not one per message.

A window published message by message costs the publisher a PubAck per message to parse, dispatch and call
back. In a fast-ingest batch the server answers the first message, then every `FLOW`
messages, then once at the end; here a window is one batch and its end-of-batch marker asks for the final
PubAck. Each message still carries its `Nats-Msg-Id`, and the stream de-duplicates inside a batch as it
does outside one (verified: a batch of re-sent ids is acked with nothing stored twice).

The protocol lives in each message's reply subject: `<inbox>.<batch>.<flow>.<gap>.<seq>.<op>.$FI`. The gap
mode is `fail`: the server abandons the batch at the first message it refuses or misses, and says so.

The outcome is all or nothing. A final PubAck for this batch that counts every message means every message
is stored. Anything else (an error, a gap, an abandoned batch, a 503 status, a reply of unknown shape)
means "not sure", and the caller publishes the window again message by message, where each message gets
its own answer and the stream drops the copies. No answer in time is a timeout, as for any publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Sequence
from enum import Enum

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from parley_runtime.observability import metrics

Message = tuple[str, bytes, dict[str, str]]

FLOW = 500  # ask for a flow ack every 500 messages: more than a window, so only the final answer counts
START, APPEND, END = 0, 1, 3  # ops of the reply subject (2 = commit with a payload, 4 = ping: unused)
DISABLED_ON_STREAM = 10205  # "batch publish is disabled": the stream was not provisioned for it (yet)
RECHECK_AFTER = 60.0  # seconds before trying fast ingest again on a stream that refused it


class Result(Enum):
    STORED = "stored"  # every message is stored (or was already)
    UNSURE = "unsure"  # publish the window again message by message
    TIMEOUT = "timeout"  # no final answer in time


def status_text(msg: Msg) -> str:
    """An answer without a payload is a status (503: no stream listens on the subject)."""
    return f"status {(msg.headers or {}).get('Status', '?')}"


def error_text(error: dict[str, object]) -> str:
    """The error of a JetStream answer as "<code> <description>"."""
    return f"{error.get('code')} {error.get('description', '')}".strip()


def supported(nc: Client) -> bool:
    """Fast-ingest batches need nats-server 2.14 (JetStream API level 3)."""
    version = nc.connected_server_version
    return (version.major, version.minor) >= (2, 14)


class FastIngest:
    """One batch at a time on one connection (the outbox's single publishing task)."""

    def __init__(self, nc: Client) -> None:
        self._nc = nc
        self._prefix = nc.new_inbox()
        self._id = self._prefix.rsplit(".", 1)[-1]  # the inbox's random token: batch ids must not clash in a stream
        self._sub: Subscription | None = None
        self._batches = 0
        self._batch = ""  # id of the batch awaiting its answer ("" when none)
        self._size = 0
        self._result: Result | None = None
        self.reason: str | None = None  # why the last batch was not a clean success
        self._answered = asyncio.Event()
        self._paused_until = 0.0  # monotonic; fast ingest is not tried before this
        self.stats = {"stored": 0, "unsure": 0, "timeout": 0}

    async def start(self) -> FastIngest:
        self._sub = await self._nc.subscribe(f"{self._prefix}.>", cb=self._on_reply)
        return self

    async def stop(self) -> None:
        if self._sub is not None:
            await self._sub.unsubscribe()
            self._sub = None

    def usable(self) -> bool:
        return time.monotonic() >= self._paused_until and supported(self._nc)

    def pause(self, seconds: float) -> None:
        self._paused_until = time.monotonic() + seconds

    async def publish(self, messages: Sequence[Message], timeout: float) -> Result:
        """Publish the window as one batch; raises what `Client.publish` raises."""
        if self._sub is None:
            await self.start()
        self._batches += 1
        self._batch, self._size, self._result, self.reason = f"{self._id}{self._batches}", len(messages), None, None
        self._answered.clear()
        reply = f"{self._prefix}.{self._batch}.{FLOW}.fail."
        try:
            seq = 1
            for subject, data, headers in messages:
                try:
                    await self._nc.publish(
                        subject, data, reply=f"{reply}{seq}.{START if seq == 1 else APPEND}.$FI", headers=headers
                    )
                except (nats.errors.MaxPayloadError, nats.errors.BadSubjectError):
                    break  # refused by the client: end the batch here, its count will say it is short
                seq += 1
            if seq == 1:  # not even the first message left: nothing to end
                self._settle(Result.UNSURE, "the client refused the first message")
            else:
                # The end-of-batch marker is not stored; it only asks for the final PubAck.
                await self._nc.publish(messages[0][0], b"", reply=f"{reply}{seq}.{END}.$FI")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._answered.wait(), timeout)
        finally:
            result, self._batch = self._result or Result.TIMEOUT, ""  # later replies of this batch are ignored
        self.stats[result.value] += 1
        metrics.OUTBOX_BATCHES.add(1, {"outcome": result.value})
        return result

    async def _on_reply(self, msg: Msg) -> None:
        if msg.subject.rsplit(".", 6)[-6] != self._batch or self._result is not None:
            return  # a late reply of an earlier batch, or after the outcome is known
        data = msg.data
        if not data:
            self._settle(Result.UNSURE, status_text(msg))
        elif b'"error"' in data:
            error = json.loads(data).get("error") or {}
            if error.get("err_code") == DISABLED_ON_STREAM:
                self.pause(RECHECK_AFTER)
            self._settle(Result.UNSURE, error_text(error))
        elif b'"batch"' in data:
            count = json.loads(data).get("count")
            if count == self._size:
                self._settle(Result.STORED, None)
            else:
                self._settle(Result.UNSURE, f"batch ended after {count} of {self._size} messages")
        elif b'"type":"ack"' in data:
            return  # a flow ack: progress, not the outcome
        else:
            # A gap, or a plain PubAck from a server that does not know fast ingest: not this way again.
            self.pause(float("inf") if b'"type"' not in data else 0.0)
            self._settle(Result.UNSURE, f"unexpected reply: {data[:100]!r}")

    def _settle(self, result: Result, reason: str | None) -> None:
        self._result, self.reason = result, reason
        self._answered.set()
