"""The console against the real platform: one stack (the chart's NATS users, history, rooms, recordings, the
console) for all its tests, a call through the agent, and Chromium driven by Playwright."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import nats
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

import parley_contracts as c
from parley_devstack import nats_accounts
from parley_devstack.stack import Stack
from tests.support import ROOT, eventually_blocking
from tests.support.processes import simulated_call

T = TypeVar("T")
CALL = "console-call-1"
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required",
    "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream",  # a fake microphone, allowed unasked
]  # fmt: skip


def off_the_browsers_loop(work: Coroutine[Any, Any, T]) -> T:
    """Run `work` on a thread of its own: Playwright's sync API keeps an event loop running on this one."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, work).result()


@dataclass
class Platform:
    env: dict[str, str]
    stack: Stack
    root: Path

    @property
    def url(self) -> str:
        return self.env["PARLEY_CONSOLE_URL"]

    @property
    def key(self) -> str:
        return self.env["PARLEY_API_KEY"]

    def api(self, service: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.env[f"PARLEY_{service.upper()}_URL"], headers={"Authorization": f"Bearer {self.key}"}
        )

    def publish(self, *events: c.Event) -> None:
        """Publish events as the agent does (its NATS user), for a call the test plays out itself."""

        async def send() -> None:
            login = self.stack.nats_login("", "agent")
            nc = await nats.connect(
                self.env["PARLEY_NATS_URL"], user=login["NATS_USER"], password=login["NATS_PASSWORD"]
            )
            js = nc.jetstream()
            for event in events:
                await js.publish(c.subject_for(event), c.encode(event), headers={"Nats-Msg-Id": str(event.event_id)})
            await nc.close()

        off_the_browsers_loop(send())

    def turns(self, conversation_id: str) -> list[dict[str, Any]]:
        r = self.api("history").get(f"/v1/conversations/{conversation_id}/turns", params={"limit": 200})
        return list(r.json()["items"]) if r.status_code == 200 else []

    def console_log(self) -> str:
        return (self.stack.logs / "console.log").read_text(errors="replace")


# The agent speaks and hears for real (the local voice: /talk's simulated calls), and the console joins the stack's
# LiveKit stand-in (/talk with a microphone). The call every module reads is typed (offline), for its exact words.
STACK_SETTINGS = {"AGENT_PROVIDERS": "local", "CONSOLE_LIVEKIT_URL": "@PARLEY_LIVEKIT_URL"}


@pytest.fixture(scope="package")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    """One stack for every browser test of the console: starting it is most of what they cost."""
    root = tmp_path_factory.mktemp("console")
    stack = Stack(root / "stack", simulated_calls=0, chart_users=True, settings=STACK_SETTINGS)
    try:
        found = Platform(stack.start(), stack, root)
        simulated_call(stack, found.env, root, CALL, "ada")
        recordings = found.api("recordings")

        def stored() -> bool:
            r = recordings.get("/v1/recordings", params={"conversation_id": CALL})
            return len(found.turns(CALL)) == 7 and r.status_code == 200 and len(r.json()["items"]) == 3

        eventually_blocking(stored, timeout=60, what="the call's turns and recordings")
        yield found
        assert not nats_accounts.violations(stack.nats_log()), "NATS refused the console something it needs"
    finally:
        stack.stop()


def chromium_path() -> str | None:
    """Debian's Chromium where it is installed (CI installs it); else Playwright's own download."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser(platform: Platform) -> Iterator[Browser]:  # the platform first: its set-up runs event loops
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=chromium_path(), headless=True, args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


FAILED = pytest.StashKey[bool]()


@pytest.fixture
def page(browser: Browser, platform: Platform, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh browser context (no cookie); a failing test leaves a screenshot in test-artifacts/."""
    context = browser.new_context()
    opened = context.new_page()
    yield opened
    if request.node.stash.get(FAILED, False):
        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / f"{request.node.name}.png"
        opened.screenshot(path=str(shot), full_page=True)
        print(f"screenshot: {shot}")
    context.close()


def sign_in(page: Page, platform: Platform, then: str = "/calls") -> None:
    page.goto(f"{platform.url}{then}")
    page.get_by_test_id("signin").get_by_label("API key").fill(platform.key)
    page.get_by_test_id("signin").get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"**{then}*")
