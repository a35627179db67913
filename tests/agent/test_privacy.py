"""Personal data a caller reads out never leaves the agent: two simulated calls (typed lines, and the local voice)
say a card number, a phone number and an e-mail address, written and spoken several ways. Then no stream, table,
search, transcript or webhook holds a raw value, the stored audio transcribed back holds no digits, and the turns
say what was removed. The agent's LLM had the values during the call: its echo of them was masked too.
"""

from __future__ import annotations

import asyncio
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import nats
import numpy as np
import pytest

from parley_agent.local_voice import LocalModels
from parley_devstack.stack import Stack
from parley_devstack.testing import messages_in
from tests.support import eventually_blocking
from tests.support.processes import saying, start_simulation
from tests.support.receiver import Receiver
from tests.support.serving import served_in_thread

pytestmark = pytest.mark.slow

CARD, PHONE, EMAIL = "4111 1111 1111 1111", "415 555 2671", "ada@example.com"
TYPED = [
    f"My card is {CARD}, or 4111-1111-1111-1111 if you like.",
    "Again: four one one one one one one one one one one one one one one one.",
    "My phone is 415-555-2671, that is four one five, five five five, two six seven one.",
    f"Mail {EMAIL} or ada at example dot com.",
    "Book a table for two on Friday, please.",
]
SPOKEN = [
    "My card number is 4 1 1 1, 1 1 1 1, 1 1 1 1, 1 1 1 1.",
    "My phone number is 4 1 5, 5 5 5, 2 6 7 1.",
    f"My email is {EMAIL}.",
]
# A value in any form: its digits with any separators, its words, the address written or spelled.
_SEP = r"[\s,.\-]*"
RAW = [
    re.compile(_SEP.join("4111111111111111")),
    re.compile(_SEP.join("4155552671")),
    re.compile(r"(four|4)\W+(one|1)\W+(one|1)\W+(one|1)", re.IGNORECASE),
    re.compile(r"(four|4)\W+(one|1)\W+(five|5)\W+(five|5)", re.IGNORECASE),
    re.compile(r"ada(@|\s+at\s+)example", re.IGNORECASE),
]


def leaks(text: str) -> list[str]:
    return [m.group() for pattern in RAW for m in pattern.finditer(text)]


@dataclass
class Calls:
    env: dict[str, str]
    root: Path
    typed: str
    spoken: str
    receiver: Receiver

    def api(self, service: str) -> httpx.Client:
        return httpx.Client(base_url=self.env[f"PARLEY_{service.upper()}_URL"],
                            headers={"Authorization": f"Bearer {self.env['PARLEY_API_KEY']}"}, timeout=30)  # fmt: skip

    def turns(self, conversation: str) -> list[dict[str, Any]]:
        r = self.api("history").get(f"/v1/conversations/{conversation}/turns", params={"limit": 100})
        return list(r.json()["items"]) if r.status_code == 200 else []


@pytest.fixture(scope="module")
def calls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Calls]:
    root = tmp_path_factory.mktemp("privacy")
    platform = Stack(root / "stack", simulated_calls=0, settings={"AGENT_PROVIDERS": "offline"})
    receiver = Receiver()
    try:
        env = platform.start()
        with served_in_thread(receiver.app()) as receiver_url:
            found = Calls(env, root, "privacy-typed", "privacy-spoken", receiver)
            endpoint = {
                "url": f"{receiver_url}/hook",
                "event_types": ["turn_completed.v1", "session_ended.v1", "call.report"],
            }
            assert found.api("webhooks").post("/v1/endpoints", json=endpoint).status_code == 201
            stack = {"PARLEY_STACK_ENV": str(root / "stack" / "stack.env")}
            running = [
                start_simulation(
                    stack, root / "offline", found.typed, "privacy", "--providers", "offline", *saying(TYPED)
                ),
                start_simulation(
                    stack, root / "local", found.spoken, "privacy", "--providers", "local", *saying(SPOKEN)
                ),
            ]
            for process in running:  # the two calls at once, as two callers would
                _, err = process.communicate(timeout=300)
                assert process.returncode == 0, err[-3000:]
            recordings = found.api("recordings")

            def stored() -> bool:
                reports = [r for r in receiver.on("hook") if b'"call.report"' in r.body]
                listed = [recordings.get("/v1/recordings", params={"conversation_id": c}).json()["items"]
                          for c in (found.typed, found.spoken)]  # fmt: skip
                return len(reports) >= 2 and all(len(items) >= 3 for items in listed)

            eventually_blocking(stored, timeout=120, what="both calls' recordings and reports")
            yield found
    finally:
        platform.stop()


def test_the_turns_say_what_was_removed_and_keep_the_rest(calls: Calls) -> None:
    turns = calls.turns(calls.typed)
    said = [t for t in turns if t["role"] == "user"]
    assert said[0]["text"] == "My card is [CREDIT_CARD], or [CREDIT_CARD] if you like."
    assert said[1]["text"] == "Again: [CREDIT_CARD]."
    assert said[2]["text"] == "My phone is [PHONE_NUMBER], that is [PHONE_NUMBER]."
    assert said[3]["text"] == "Mail [EMAIL_ADDRESS] or [EMAIL_ADDRESS]."
    assert said[4]["text"] == TYPED[4] and not said[4].get("redactions")  # nothing personal: as said
    for turn in said[:4]:
        assert {turn["text"][r["start"] : r["end"]] for r in turn["redactions"]} <= {
            "[CREDIT_CARD]", "[PHONE_NUMBER]", "[EMAIL_ADDRESS]"
        }  # fmt: skip
    # The agent's LLM heard the values (it echoes what it is told): its reply held them, and was masked in turn.
    echo = next(t for t in turns if t["role"] == "assistant" and "Again" in t["text"])
    assert [r["type"] for r in echo["redactions"]] == ["CREDIT_CARD"]


def test_the_spoken_calls_values_are_masked_whatever_the_recognizer_wrote(calls: Calls) -> None:
    said = [t for t in calls.turns(calls.spoken) if t["role"] == "user"]
    assert len(said) == 3
    # What Whisper tiny writes for a number read out varies with how the voice activity detector cut the speech
    # (a digit lost or doubled): a card's length is masked as a card, any other long run as a spoken number.
    assert {r["type"] for t in said[:2] for r in t["redactions"]} <= {"CREDIT_CARD", "PHONE_NUMBER", "SPOKEN_NUMBER"}
    assert said[0]["redactions"] and said[1]["redactions"]
    assert all(w["word"].startswith("[") or not re.search(r"\d{3}", w["word"]) for t in said for w in t["words"])


def test_no_stream_holds_a_raw_value(calls: Calls) -> None:
    async def scan() -> list[str]:
        env = calls.env
        nc = await nats.connect(env["PARLEY_NATS_URL"], user=env.get("PARLEY_NATS_USER"),
                                password=env.get("PARLEY_NATS_PASSWORD"))  # fmt: skip
        found: list[str] = []
        try:
            for stream in ("VOICE", "DLQ"):
                for message in await messages_in(nc.jetstream(), stream):
                    found += leaks((message.data or b"").decode(errors="replace"))
        finally:
            await nc.close()
        return found

    assert asyncio.run(scan()) == []


def test_no_table_holds_a_raw_value_and_search_finds_none(calls: Calls) -> None:
    async def scan() -> list[str]:
        db = await asyncpg.connect(calls.env["PARLEY_DATABASE_URL"])
        found: list[str] = []
        try:
            tables = await db.fetch(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
                " AND table_schema NOT IN ('pg_catalog', 'information_schema')"
            )
            for t in tables:
                rows = await db.fetch(f'SELECT t::text AS row FROM "{t["table_schema"]}"."{t["table_name"]}" t')
                found += [f"{t['table_name']}: {leak}" for r in rows for leak in leaks(r["row"])]
        finally:
            await db.close()
        return found

    assert asyncio.run(scan()) == []
    history = calls.api("history")
    for query in ("4111", "4111111111111111", "ada@example.com", "2671"):
        assert history.get("/v1/search", params={"q": query}).json()["items"] == [], query
    assert history.get("/v1/search", params={"q": "table Friday"}).json()["items"]  # search itself works


def test_no_transcript_or_webhook_holds_a_raw_value(calls: Calls) -> None:
    recordings = calls.api("recordings")
    for conversation in (calls.typed, calls.spoken):
        items = recordings.get("/v1/recordings", params={"conversation_id": conversation}).json()["items"]
        transcripts = [r for r in items if r["kind"] == "transcript"]
        assert transcripts
        for r in transcripts:
            assert leaks(recordings.get(f"/v1/recordings/{r['id']}/content").text) == []
    bodies = [r.body.decode() for r in calls.receiver.on("hook")]
    assert len(bodies) > 10 and [leak for body in bodies for leak in leaks(body)] == []


def test_the_stored_audio_transcribed_back_holds_no_digits(calls: Calls) -> None:
    import av

    recordings = calls.api("recordings")
    items = recordings.get("/v1/recordings", params={"conversation_id": calls.spoken}).json()["items"]
    (audio,) = [r for r in items if r["kind"] == "audio"]
    ogg = recordings.get(f"/v1/recordings/{audio['id']}/content").content
    with av.open(io.BytesIO(ogg), mode="r") as container:
        resampler = av.AudioResampler(format="fltp", layout="stereo", rate=16000)
        planes = [f.to_ndarray() for frame in container.decode(audio=0) for f in resampler.resample(frame)]
    channels = np.concatenate(planes, axis=1).astype(np.float32)
    models = LocalModels.load()
    heard = [models.transcribe(channel)[0] for channel in channels]
    print(heard)
    assert "card" in heard[0].lower() or "phone" in heard[0].lower()  # the rest of the caller's words are there
    for text in heard:
        assert not re.search(r"\d\W?\d\W?\d", text), text
        assert leaks(text) == [], text
