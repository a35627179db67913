"""The done-when of webhooks: on the whole platform (make dev's stack, under the chart's NATS users), an
endpoint registered through the API receives one signed `call.report` for a simulated call, with its turns,
transcript links, analysis and cost; through failures with one webhook-id; in the log; replayable."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from parley_devstack import nats_accounts
from parley_devstack.stack import Stack
from tests.support import eventually_blocking
from tests.support.processes import simulated_call
from tests.support.receiver import Receiver
from tests.support.serving import served_in_thread

pytestmark = pytest.mark.slow
CALL = "webhooks-report-call"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, dict[str, str]]]:
    root = tmp_path_factory.mktemp("webhooks-stack")
    settings = {"AGENT_PROVIDERS": "offline", "WEBHOOKS_RETRY_SCHEDULE_SECONDS": "0.5,0.5,0.5"}
    stack = Stack(root / "stack", simulated_calls=0, chart_users=True, settings=settings)
    try:
        yield stack, stack.start()
        assert not nats_accounts.violations(stack.nats_log()), "NATS refused webhooks something it needs"
    finally:
        stack.stop()


def test_a_simulated_call_sends_one_signed_call_report_retried_logged_and_replayable(
    stack: tuple[Stack, dict[str, str]], tmp_path: Path
) -> None:
    platform, env = stack
    receiver = Receiver(script={"crm": [503, 204]})
    with (
        served_in_thread(receiver.app()) as receiver_url,
        httpx.Client(
            base_url=env["PARLEY_WEBHOOKS_URL"], headers={"Authorization": f"Bearer {env['PARLEY_API_KEY']}"}
        ) as api,
    ):
        created = api.post("/v1/endpoints", json={"url": f"{receiver_url}/crm", "description": "the CRM"})
        assert created.status_code == 201, created.text
        endpoint = created.json()
        assert endpoint["event_types"] == ["call.report"]  # what an endpoint gets unless it names more
        simulated_call(platform, env, tmp_path, CALL, "grace")
        eventually_blocking(lambda: len(receiver.on("crm")) >= 2, timeout=90, what="the report, retried")
        first, second = receiver.on("crm")[:2]
        assert first.headers["webhook-id"] == second.headers["webhook-id"]
        report = Webhook(endpoint["secret"]).verify(second.body, second.headers)
        data: dict[str, Any] = report["data"]
        assert report["type"] == "call.report" and data["conversation_id"] == CALL and data["missing"] == []
        assert [t["role"] for t in data["turns"]][:2] == ["assistant", "user"] and len(data["turns"]) == 7
        assert {r["kind"] for r in data["recordings"]} >= {"transcript"}
        assert all(r["content_url"].endswith("/content") for r in data["recordings"])  # local files: no signing
        assert data["analysis"]["status"] == "ok" and data["cost"]["total"] > 0
        assert data["latency"]["turns"] >= 1 and data["latency"]["llm_ttft"]["p50_s"] >= 0
        log = api.get(f"/v1/endpoints/{endpoint['id']}/deliveries").json()["items"]
        [delivery] = [d for d in log if d["event_type"] == "call.report"]
        assert delivery["status"] == "delivered" and [a["status_code"] for a in delivery["attempts"]] == [503, 204]
        assert api.post(f"/v1/deliveries/{delivery['webhook_id']}/replay").status_code == 202
        eventually_blocking(lambda: len(receiver.on("crm")) >= 3, timeout=30, what="the replay")
        assert receiver.on("crm")[2].headers["webhook-id"] == delivery["webhook_id"]
        assert json.loads(receiver.on("crm")[2].body) == report
