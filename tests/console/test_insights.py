"""A simulated call through the whole platform (the chart's NATS users): insights analyses it, history serves the
analysis and its itemized cost with the session and sums it in /v1/usage, and the call page shows both."""

from __future__ import annotations

from typing import Any

import pytest
from parley_insights.offline import NAME as OFFLINE
from playwright.sync_api import Page, expect

from tests.support import eventually

from .conftest import CALL, Platform, off_the_browsers_loop, sign_in

pytestmark = pytest.mark.slow


def _analysis(platform: Platform) -> dict[str, Any]:
    history = platform.api("history")
    session_id = platform.turns(CALL)[0]["session_id"]

    def analysed() -> dict[str, Any] | None:
        found: dict[str, Any] | None = history.get(f"/v1/sessions/{session_id}").json().get("analysis")
        return found

    # On a thread of its own: with a page open, Playwright runs an event loop on this one.
    return off_the_browsers_loop(eventually(analysed, timeout=60, what="the call's analysis in history"))


def test_the_call_is_analysed_and_its_cost_multiplies_out_and_sums(platform: Platform) -> None:
    analysis = _analysis(platform)
    assert (analysis["status"], analysis["analyzer"], analysis["revision"]) == ("ok", OFFLINE, 1)
    assert analysis["summary"] and set(analysis["data"]) >= {"intent", "resolved", "follow_up_needed"}
    assert 0 <= analysis["evaluation"]["score"] <= 1
    cost = analysis["cost"]
    items = cost["items"]
    assert {i["component"] for i in items} >= {"llm", "tts"}  # the offline agent's scripted LLM and tone voice
    for item in items:
        assert item["amount"] == pytest.approx(item["quantity"] * item["unit_price"], abs=1e-6)
    assert cost["total"] == pytest.approx(sum(i["amount"] for i in items), abs=1e-6) and cost["total"] > 0
    usage = platform.api("history").get("/v1/usage", params={"group_by": "model"}).json()
    summed = sum(t["cost"] for t in usage["totals"] if t["currency"] == cost["currency"])
    assert summed >= cost["total"] - 1e-6  # this call, and any other the module made


def test_the_call_page_shows_the_analysis_and_the_cost(page: Page, platform: Platform) -> None:
    analysis = _analysis(platform)
    sign_in(page, platform, f"/calls/{CALL}")
    shown = page.get_by_test_id("analysis")
    expect(shown).to_contain_text(f"by {OFFLINE}")
    expect(page.get_by_test_id("analysis-summary")).to_have_text(analysis["summary"])
    expect(page.get_by_test_id("analysis-evaluation")).to_contain_text("score")
    expect(page.get_by_test_id("analysis-data")).to_contain_text("intent")
    expect(page.get_by_test_id("cost-item")).to_have_count(len(analysis["cost"]["items"]))
    expect(page.get_by_test_id("cost")).to_contain_text("Cost")
