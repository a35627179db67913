"""The console's actions in Chromium against the real platform: talking through LiveKit (its local stand-in
records the signalling connection), a simulated call started from the page and transcribed by the local voice,
rooms ended, dead letters replayed and deleted from /ops, a call erased from its page, accessibility."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import nats
import pytest
from playwright.sync_api import Page, expect

from parley_runtime.messaging.redrive import DeadLetter, dead_letters
from tests.support import eventually
from tests.support.processes import simulated_call

from .conftest import Platform, off_the_browsers_loop, sign_in
from .test_browser import _serious_violations

pytestmark = pytest.mark.slow
POISON_MARK = "POISONED-PAYLOAD-TEXT"
ERASED = "console-erase-from-page"


def _dead_letters(platform: Platform) -> list[DeadLetter]:
    async def read() -> list[DeadLetter]:
        env = platform.env
        nc = await nats.connect(
            env["PARLEY_NATS_URL"], user=env["PARLEY_NATS_USER"], password=env["PARLEY_NATS_PASSWORD"]
        )
        try:
            return await dead_letters(nc.jetstream())
        finally:
            await nc.close()

    return off_the_browsers_loop(read())


def _until(check: Callable[[], Any], what: str, timeout: float = 30) -> None:
    async def waited() -> None:
        await eventually(check, timeout=timeout, what=what)

    off_the_browsers_loop(waited())


def _poison(platform: Platform, conversation_id: str) -> None:
    """A turn_completed that is not JSON, published under the agent's own NATS user: every consumer of it gives up."""

    async def send() -> None:
        login = platform.stack.nats_login("", "agent")
        nc = await nats.connect(
            platform.env["PARLEY_NATS_URL"], user=login["NATS_USER"], password=login["NATS_PASSWORD"]
        )
        subject = f"voice.turn_completed.v1.{conversation_id}"
        await nc.jetstream().publish(subject, f"{{{POISON_MARK}".encode(), headers={"Nats-Msg-Id": conversation_id})
        await nc.close()

    off_the_browsers_loop(send())


def test_talk_asks_rooms_for_a_token_and_opens_livekits_signalling_with_it(page: Page, platform: Platform) -> None:
    sign_in(page, platform, "/talk")
    page.get_by_test_id("talk").get_by_label("User id").fill("talker")
    page.get_by_test_id("talk-start").click()
    livekit = platform.stack.livekit
    assert livekit is not None
    _until(lambda: any(a.identity == "talker" for a in livekit.signalling), "the browser's signalling connection")
    attempt = next(a for a in livekit.signalling if a.identity == "talker")
    (room,) = platform.api("rooms").get("/v1/rooms", params={"user_id": "talker"}).json()["items"]
    assert attempt.room == room["name"] and attempt.path.startswith("/rtc")  # a token for this room, verified
    expect(page.get_by_role("alert")).to_contain_text("Could not join")  # no media server behind the stand-in


def test_an_open_room_is_listed_with_its_agent_and_ended_from_rooms(page: Page, platform: Platform) -> None:
    room = platform.api("rooms").post("/v1/rooms", json={"user_id": "roomer"}).json()
    sign_in(page, platform, "/rooms")
    row = page.get_by_test_id("room-row").filter(has_text=room["name"])
    expect(row).to_contain_text("dispatched, not yet joined")
    row.get_by_test_id("room-end").click()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("room-row").filter(has_text=room["name"])).to_have_count(0)
    assert platform.api("rooms").get(f"/v1/rooms/{room['name']}").json()["status"] == "ended"


def test_a_simulated_call_started_from_the_page_is_transcribed_and_followed_live(
    page: Page, platform: Platform
) -> None:
    sign_in(page, platform, "/talk")
    form = page.get_by_test_id("simulate")
    form.get_by_label("User id").fill("simulated-grace")
    page.get_by_test_id("simulate-line").first.fill("Hello, I would like to book a table for two on Friday evening.")
    page.get_by_test_id("simulate-start").click()
    page.wait_for_url(re.compile(r"/calls/[^/]+$"), timeout=60_000)
    expect(page.get_by_test_id("live")).to_be_visible()  # the page is there before the call has ended
    caller = page.locator(".turn-user .text").first
    expect(caller).not_to_be_empty(timeout=120_000)
    heard = set(re.findall(r"\w+", caller.inner_text().lower()))
    assert len(heard & {"book", "table", "two", "friday", "evening"}) >= 3, heard  # what the synthesized caller said
    expect(page.locator(".turn-agent, .turn-assistant").first).to_be_visible(timeout=60_000)
    conversation = page.url.rsplit("/", 1)[1]
    found = platform.api("history").get(f"/v1/conversations/{conversation}").json()
    assert found["conversation"]["user_id"] == "simulated-grace"


def test_a_poisoned_event_is_shown_in_ops_and_replayed_and_deleted_from_there(page: Page, platform: Platform) -> None:
    _poison(platform, "poison-1")
    _until(lambda: any(d.event_id == "poison-1" for d in _dead_letters(platform)), "the poisoned event's dead letter")
    sign_in(page, platform, "/ops")
    expect(page.get_by_test_id("consumer-row").filter(has_text="history")).to_be_visible()
    rows = page.get_by_test_id("dlq-row").filter(has_text="voice.turn_completed.v1.poison-1")
    expect(rows.first).to_contain_text("JSON is malformed")  # the reason its consumer gave
    assert POISON_MARK not in page.content()  # a dead letter is described, never shown
    before = {d.seq for d in _dead_letters(platform)}
    rows.first.get_by_test_id("dlq-replay").click()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_role("status").filter(has_text="Replayed 1 dead letter(s).")).to_be_visible()
    # Replayed to its subject, the same poison dies again: a new dead letter, the replayed one gone.
    _until(lambda: {d.seq for d in _dead_letters(platform)} - before, "the replayed event's new dead letter")
    page.get_by_role("button", name="Refresh").click()
    expect(rows.first).to_be_visible()
    count = rows.count()
    rows.first.get_by_test_id("dlq-delete").click()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_role("status").filter(has_text="Deleted 1 dead letter(s).")).to_be_visible()
    expect(rows).to_have_count(count - 1)
    page.get_by_test_id("dlq-delete-all").click()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("dlq-row")).to_have_count(0)
    assert _dead_letters(platform) == []


def test_the_new_pages_have_no_serious_accessibility_violation(page: Page, platform: Platform) -> None:
    sign_in(page, platform, "/talk")
    for path, ready in (("/talk", "simulate"), ("/rooms", "room-row"), ("/ops", "consumer-row")):
        page.goto(f"{platform.url}{path}")
        expect(page.get_by_test_id(ready).first).to_be_visible()
        assert _serious_violations(page) == [], path


def test_erasing_a_call_from_its_page_leaves_history_answering_404(page: Page, platform: Platform) -> None:
    simulated_call(platform.stack, platform.env, platform.root, ERASED, "erin")
    sign_in(page, platform, f"/calls/{ERASED}")
    page.get_by_test_id("erase").click()
    page.get_by_test_id("confirm").click()
    expect(page.get_by_test_id("erase-status")).to_contain_text("Erasure requested")
    history = platform.api("history")
    _until(lambda: history.get(f"/v1/conversations/{ERASED}").status_code == 404, "the conversation erased")
    audit = [json.loads(line) for line in platform.console_log().splitlines() if '"parley.audit"' in line]
    assert any(a.get("action") == "DELETE /api/calls/{conversation_id}" and a.get("outcome") == 202 for a in audit)
