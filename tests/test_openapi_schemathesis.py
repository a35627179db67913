"""Each API, served on a real port against real Postgres, NATS and the LiveKit stand-in, checked by an independent
Schemathesis run: its CLI, every check and every phase (examples, coverage, fuzzing, stateful), as a client's
team or a security review would run it.

Left out, each for a reason (`LEFT_OUT`); statuses a valid request may get besides Schemathesis's defaults are in
`tests/schemathesis.toml`, with theirs. `tests/test_openapi_conformance.py` checks the documents themselves.
"""

from __future__ import annotations

import asyncio
import sys
from contextlib import AsyncExitStack
from pathlib import Path

import pytest

from parley_devstack.livekit_standin import LiveKitStandIn
from parley_devstack.testing import provisioned
from tests.support import ROOT
from tests.support.serving import served

from .services import API_KEY, API_SERVICES, create_app, service_settings

LEFT_OUT = {
    # DELETE /v1/rooms/{name} ends a call: LiveKit closes the room and rooms marks it ended. The room's record
    # (status, sessions, when it ended) stays readable, as the document says: it is not a resource deleted.
    "use_after_free": "a room ended is still a room",
    # It needs two credentials where one must not see the other's resources. Parley's keys belong to a
    # deployment, not a tenant: every key with a scope sees every resource of that scope.
    "object_level_authorization": "keys are per deployment, not per tenant",
}
EXAMPLES = 20  # per operation and phase


@pytest.mark.slow
@pytest.mark.parametrize("service", API_SERVICES)
async def test_schemathesis_finds_nothing_with_every_check_and_phase(
    service: str, database_url: str, nats_url: str, tmp_path: Path
) -> None:
    await provisioned(nats_url)
    livekit = await LiveKitStandIn("APIdevkey", "s" * 32).start() if service == "rooms" else None
    extra: dict[str, str] = (
        {"livekit_url": livekit.url, "livekit_api_key": "APIdevkey", "livekit_api_secret": "s" * 32} if livekit else {}
    )
    try:
        async with AsyncExitStack() as stack:
            if service == "insights":  # it reads sessions from history: a real one, on the same database
                history = service_settings("history", database_url, tmp_path, nats_url=nats_url)
                extra = {"history_url": await stack.enter_async_context(served(create_app("history", history))),
                         "history_key": API_KEY}  # fmt: skip
            settings = service_settings(service, database_url, tmp_path, nats_url=nats_url, **extra)
            url = await stack.enter_async_context(served(create_app(service, settings)))
            run = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "schemathesis.cli", "--no-color",
                "--config-file", str(ROOT / "tests" / "schemathesis.toml"),
                "run", f"{url}/schema/openapi.json", "-H", f"Authorization: Bearer {API_KEY}",
                "--checks", "all", "--exclude-checks", ",".join(LEFT_OUT),
                "--phases", "examples,coverage,fuzzing,stateful",
                "--max-examples", str(EXAMPLES), "--generation-deterministic",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
            )  # fmt: skip
            output, _ = await run.communicate()
    finally:
        if livekit:
            await livekit.stop()
    report = output.decode(errors="replace")
    assert run.returncode == 0, report[-6000:]
    assert "Coverage" in report and "Stateful" in report  # the phases ran, not only the examples
