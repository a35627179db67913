"""The dead-letter copier: JetStream advisories -> the original message on `dlq.<subject>`.

JetStream reports a terminated message (`MSG_TERMINATED`, with the consumer's reason) and a message that
ran out of deliveries (`MAX_DELIVERIES`) as advisories. Stream `VOICE_ADVISORIES` captures them durably,
so nothing is lost while no copier runs. The copier fetches each advisory, reads the original message
from `VOICE` (limits retention keeps it), and publishes payload + headers + reason to `dlq.<subject>` in
stream `DLQ`. The DLQ publish is de-duplicated on `dlq:<stream>:<consumer>:<seq>`, so several copiers
(one per service replica) and redelivered advisories never create two dead letters for one failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from dataclasses import dataclass
from typing import Any

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from parley_contracts.streams import ADVISORY_STREAM_NAME, DLQ_COPIER_DURABLE
from parley_runtime.observability import metrics
from parley_runtime.periodic import sleep_unless

logger = logging.getLogger(__name__)

REASON_HEADER = "Parley-Dlq-Reason"
CONSUMER_HEADER = "Parley-Dlq-Consumer"
SEQ_HEADER = "Parley-Dlq-Stream-Seq"
DELIVERIES_HEADER = "Parley-Dlq-Deliveries"
ORIGINAL_ID_HEADER = "Parley-Dlq-Original-Msg-Id"


def dead_letter_reason(advisory: dict[str, Any]) -> str:
    kind = str(advisory.get("type", "")).rsplit(".", 1)[-1]
    if kind == "terminated":
        return str(advisory.get("reason") or "terminated by consumer")
    deliveries = advisory.get("deliveries")
    return f"max deliveries reached ({deliveries})"


@dataclass
class DeadLetterCopier:
    js: JetStreamContext
    batch_size: int = 50
    fetch_timeout: float = 1.0
    copied: int = 0

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self.js.pull_subscribe_bind(DLQ_COPIER_DURABLE, stream=ADVISORY_STREAM_NAME)
        try:
            while not stop.is_set():
                try:
                    advisories = await sub.fetch(self.batch_size, timeout=self.fetch_timeout)
                except nats.errors.TimeoutError:
                    continue
                except nats.errors.ConnectionClosedError:
                    logger.warning("nats connection closed; dlq copier stops")  # closed for good
                    break
                except (nats.errors.Error, OSError) as exc:
                    logger.warning("dlq fetch failed", extra={"error": repr(exc)})
                    await sleep_unless(stop, 1.0)
                    continue
                for adv in advisories:
                    await self.copy(adv)
        finally:
            with contextlib.suppress(nats.errors.ConnectionClosedError):
                await sub.unsubscribe()

    async def copy(self, adv: Msg) -> None:
        try:
            advisory = json.loads(adv.data)
            stream, seq = str(advisory["stream"]), int(advisory["stream_seq"])
            consumer = str(advisory.get("consumer", ""))
        except (ValueError, KeyError, TypeError):
            logger.error("unreadable advisory, dropped", extra={"subject": adv.subject})
            await adv.ack()
            return
        try:
            original = await self.js.get_msg(stream, seq)
        except NotFoundError:
            logger.error("dead letter no longer in its stream", extra={"stream": stream, "seq": seq})
            await adv.ack()
            return
        except (nats.errors.Error, OSError, TimeoutError):
            await adv.nak(delay=2)
            return
        headers = dict(original.headers or {})
        if "Nats-Msg-Id" in headers:
            # A replayed dead letter (`redrive`) already names its original id: keep that, not `redrive:<n>`.
            headers.setdefault(ORIGINAL_ID_HEADER, headers["Nats-Msg-Id"])
        reason = dead_letter_reason(advisory)
        headers.update(
            {
                "Nats-Msg-Id": f"dlq:{stream}:{consumer}:{seq}",
                REASON_HEADER: reason,
                CONSUMER_HEADER: consumer,
                SEQ_HEADER: str(seq),
                DELIVERIES_HEADER: str(advisory.get("deliveries", "")),
            }
        )
        subject = original.subject or "unknown"
        try:
            await self.js.publish(f"dlq.{subject}", original.data or b"", headers=headers, timeout=5)
        except (nats.errors.Error, OSError, TimeoutError):
            await adv.nak(delay=2)
            return
        await adv.ack()
        self.copied += 1
        metrics.DEAD_LETTERS.add(1, {"consumer": consumer})
        logger.warning("dead letter stored", extra={"subject": subject, "consumer": consumer, "reason": reason})
