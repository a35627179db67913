"""The console in Chromium against the real platform: sign-in, the call log, a call with its recording and
captions, a live call, search, inert transcript text, accessibility, erasure."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest
from playwright.sync_api import Page, expect

import parley_contracts as c
from tests.support import ROOT
from tests.support.processes import simulated_call

from .conftest import CALL, Platform, sign_in

if TYPE_CHECKING:
    from playwright._impl._api_structures import SetCookieParam

pytestmark = pytest.mark.slow
AXE = ROOT / "services" / "console" / "web" / "node_modules" / "axe-core" / "axe.min.js"
HOSTILE = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script> & "quotes"'


def until(page: Page, script: str, timeout: float = 10.0) -> Any:
    """The first truthy value of `script` (a function, evaluated in the page), polled: the console's CSP forbids
    the string evaluation Playwright's own `wait_for_function` uses."""
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(script)):
        assert time.monotonic() < deadline, f"timed out waiting for {script}"
        page.wait_for_timeout(50)  # the page's own clock between two looks
    return value


def _serious_violations(page: Page) -> list[dict[str, Any]]:
    page.evaluate(AXE.read_text())  # not a script tag: the console's CSP refuses inline scripts, as it should
    found: list[dict[str, Any]] = page.evaluate("async () => (await window.axe.run()).violations")
    return [v for v in found if v["impact"] in ("serious", "critical")]


def test_every_page_asks_for_a_sign_in_first_and_a_wrong_key_is_refused(page: Page, platform: Platform) -> None:
    for path in ("/calls", f"/calls/{CALL}", "/search?q=dentist"):
        page.goto(f"{platform.url}{path}")
        page.wait_for_url("**/signin?next=*")
    form = page.get_by_test_id("signin")
    form.get_by_label("API key").fill("not-a-key")
    form.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("That key may not sign in.")
    form.get_by_label("API key").fill(platform.key)
    form.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/search?q=dentist")  # back where the person was going
    assert page.context.cookies()[0]["httpOnly"] is True
    assert page.context.cookies()[0]["sameSite"] == "Strict"


def test_the_call_log_lists_calls_and_keeps_its_filters_in_the_address(page: Page, platform: Platform) -> None:
    sign_in(page, platform)
    rows = page.get_by_test_id("call-row")
    expect(rows.filter(has_text="ada")).to_have_count(1)
    expect(rows.filter(has_text="ada")).to_contain_text("ended")
    expect(rows.filter(has_text="ada")).to_contain_text("7")
    page.get_by_label("User").fill("nobody-at-all")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**/calls?user_id=nobody-at-all")
    expect(page.get_by_text("No calls match.")).to_be_visible()
    page.goto(f"{platform.url}/calls?user_id=ada&status=ended")
    expect(page.get_by_test_id("call-row")).to_have_count(1)
    expect(page.get_by_label("Status")).to_have_value("ended")


def test_a_call_plays_with_moving_captions_and_a_click_on_a_turn_seeks(page: Page, platform: Platform) -> None:
    sign_in(page, platform, f"/calls/{CALL}")
    turns = page.get_by_test_id("turn-row")
    expect(turns).to_have_count(7)
    expect(turns.nth(2)).to_contain_text("LLM first token")
    expect(turns.nth(2)).to_contain_text("TTS first byte")
    expect(page.get_by_text("Usage:")).to_be_visible()
    player = page.get_by_test_id("player")
    expect(player).to_be_visible()
    until(page, "() => document.querySelector('audio').textTracks[0].cues?.length === 7")
    turns.nth(4).click()  # the caller's second line
    cue_start = page.evaluate(
        "() => Array.from(document.querySelector('audio').textTracks[0].cues).find(c => c.id === '5').startTime"
    )
    assert page.evaluate("() => document.querySelector('audio').currentTime") == pytest.approx(cue_start, abs=0.3)
    page.evaluate("() => { const a = document.querySelector('audio'); a.currentTime = 0; return a.play(); }")
    active = "() => document.querySelector('audio').textTracks[0].activeCues[0]?.id"
    first = until(page, active)
    later = until(page, f"() => {{ const id = ({active})(); return id !== '{first}' && id; }}", timeout=15)
    assert int(later) > int(first)
    expect(page.locator(f"#turn-{platform.turns(CALL)[0]['session_id']}-{later}")).to_have_attribute(
        "aria-current", "true"
    )
    download = page.get_by_role("link", name="Transcript (WebVTT)")
    assert (download.get_attribute("href") or "").endswith("?download=true")


def test_a_live_call_shows_each_turn_as_it_happens_and_its_text_stays_text(page: Page, platform: Platform) -> None:
    conversation, session = "console-live-1", "console-live-session-1"
    started = c.SessionStarted(
        event_id=c.new_event_id(), occurred_at=c.utcnow(), conversation_id=conversation, session_id=session,
        producer="agent", room_name="room-live", agent_name="parley-agent", user_id="grace", started_at=c.utcnow(),
    )  # fmt: skip
    platform.publish(started)
    sign_in(page, platform)
    page.goto(f"{platform.url}/calls?user_id=grace")
    expect(page.get_by_test_id("call-row")).to_contain_text("live")
    page.get_by_test_id("call-row").get_by_role("link").click()
    expect(page.get_by_test_id("live")).to_be_visible()
    page.evaluate("() => { window.__pwned = undefined; }")
    for seq, text in enumerate(["Hello, can you hear me?", HOSTILE, "Thanks, that is all."], start=1):
        turn = c.TurnCompleted(
            event_id=c.new_event_id(), occurred_at=started.occurred_at + timedelta(seconds=seq),
            conversation_id=conversation, session_id=session, producer="agent", seq=seq,
            role="user" if seq % 2 else "assistant", text=text,
        )  # fmt: skip
        sent = time.monotonic()
        platform.publish(turn)
        expect(page.get_by_test_id("turn-row")).to_have_count(seq, timeout=5_000)
        assert time.monotonic() - sent < 1.5, "a live turn must show within about a second"
    expect(page.get_by_test_id("turn-row").nth(1).locator(".text")).to_have_text(HOSTILE)
    assert page.evaluate("() => window.__pwned") is None, "a turn's text ran as markup"
    assert page.locator("img[src=x]").count() == 0


def test_search_marks_the_matched_words_and_links_to_the_turn(page: Page, platform: Platform) -> None:
    sign_in(page, platform, "/search")
    page.get_by_label("Words").fill("dentist")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/search?q=dentist")
    hits = page.get_by_test_id("search-hit")
    expect(hits.first).to_be_visible()
    expect(hits.first.locator("mark")).to_have_text(re.compile("dentist", re.I))
    hits.first.get_by_role("link").click()
    page.wait_for_url(re.compile(rf"/calls/{CALL}#turn-"))
    expect(page.get_by_test_id("turn-row").first).to_be_visible()


def test_no_page_has_a_serious_accessibility_violation(page: Page, platform: Platform) -> None:
    page.goto(f"{platform.url}/signin")
    assert _serious_violations(page) == []
    sign_in(page, platform)
    for path, ready in (("/calls", "call-row"), (f"/calls/{CALL}", "turn-row"), ("/search?q=dentist", "search-hit")):
        page.goto(f"{platform.url}{path}")
        expect(page.get_by_test_id(ready).first).to_be_visible()
        assert _serious_violations(page) == [], path


def test_signing_out_ends_the_session_for_every_copy_of_its_cookie(page: Page, platform: Platform) -> None:
    sign_in(page, platform)
    cookie = page.context.cookies()[0]
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    other = page.context.browser.new_context()  # type: ignore[union-attr]
    other.add_cookies([cast("SetCookieParam", cookie)])  # a copy taken before the sign-out
    r = other.request.get(f"{platform.url}/api/calls")
    assert r.status == 401
    other.close()


def test_an_erased_call_is_gone_from_every_page(page: Page, platform: Platform) -> None:
    simulated_call(platform.stack, platform.env, platform.root, "console-erase-1", "linus")
    assert platform.api("history").delete("/v1/conversations/console-erase-1").status_code == 202
    sign_in(page, platform, "/calls?user_id=linus")
    expect(page.get_by_text("No calls match.")).to_be_visible()
    page.goto(f"{platform.url}/calls/console-erase-1")
    expect(page.get_by_text("This conversation was erased on request")).to_be_visible()
    expect(page.get_by_test_id("turn-row")).to_have_count(0)


def test_the_console_logs_no_transcript_text(platform: Platform) -> None:
    said = {t["text"] for t in platform.turns(CALL)}
    log = platform.console_log()
    assert log, "the console logged nothing at all"
    assert not [text for text in said if text in log]
