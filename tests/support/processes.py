"""Parley's own processes, started by tests the way the platform starts them, to be killed and restarted."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from parley_devstack.stack import Stack

HISTORY_API_KEY = "test-key-123"

# A process that emits turns through an outbox while NATS is down, prints their ids, then waits to be killed.
_EMITTER = """
import asyncio, sys
from pathlib import Path
from uuid import uuid4
import parley_contracts as c
from parley_runtime.messaging.connection import NatsSettings
from parley_runtime.messaging.outbox import Outbox

async def main(url, spill, n):
    outbox = Outbox(NatsSettings(url=url, connect_timeout=0.2), name="doomed", spill_path=Path(spill)).start()
    for seq in range(1, n + 1):
        event = c.TurnCompleted(event_id=uuid4(), occurred_at=c.utcnow(), conversation_id="conv-1",
                                session_id="sess-1", producer="test", seq=seq, role="user", text="hello")
        outbox.emit(event)
        print(event.event_id, flush=True)
        if seq % 50 == 0:
            await asyncio.sleep(0.01)  # a call's pace, roughly
    print("done", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def spawn_history(database_url: str, nats_url: str, log: Path, *, port: int = 0) -> subprocess.Popen[bytes]:
    """`python -m parley_history` on these servers, its output appended to `log`."""
    env = {
        **os.environ,
        "HISTORY_DATABASE_URL": database_url,
        "HISTORY_NATS_URL": nats_url,
        "HISTORY_API_KEYS": HISTORY_API_KEY,
        "HISTORY_HOST": "127.0.0.1",
        "HISTORY_PORT": str(port),
        "HISTORY_BATCH_SIZE": "200",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "parley_history"], env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT
    )


async def emit_then_sigkill(url: str, spill: Path, n: int, *, after: float) -> list[str]:
    """Run an outbox spilling to `spill` until it has emitted `n` events, SIGKILL it `after` seconds later (no
    close, no drain, no chance to write anything more), and return the ids it emitted."""
    child = subprocess.Popen(
        [sys.executable, "-c", _EMITTER, url, str(spill), str(n)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert child.stdout is not None
        emitted = []
        for line in child.stdout:  # until "done" (or the child's end, should it fail)
            if line == b"done\n":
                break
            emitted.append(line.decode().strip())
        assert len(emitted) == n
        await asyncio.sleep(after)  # the time the outbox has to move its backlog to disk, not a condition
        return emitted
    finally:
        child.kill()
        child.wait(10)


def start_simulation(
    settings: Mapping[str, str], state: Path, conversation_id: str, user_id: str, *plan: str
) -> subprocess.Popen[str]:
    """`python -m parley_agent simulate --exit` for one call in `conversation_id`: `settings` are the agent's
    (`AGENT_*`, or `PARLEY_STACK_ENV` naming a stack's env file), `plan` the call's (`--providers`, `--say`...).
    It prints `conversation <id>` once the call has ended and its events are out."""
    child = {k: v for k, v in os.environ.items() if not k.startswith("AGENT_")}
    child |= {"AGENT_STATE_DIR": str(state), "AGENT_PORT": "0", **settings}
    return subprocess.Popen(
        [sys.executable, "-m", "parley_agent", "simulate", "--exit",
         "--conversation-id", conversation_id, "--user-id", user_id, *plan],
        env=child, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def saying(lines: list[str]) -> list[str]:
    """The caller's typed lines as `simulate` takes them."""
    return [arg for line in lines for arg in ("--say", line)]


def simulated_call(stack: Stack, env: dict[str, str], root: Path, conversation_id: str, user_id: str) -> None:
    """One offline simulated call (typed lines) in `conversation_id`, run to its end under the agent's chart user."""
    settings = {"AGENT_NATS_URL": env["PARLEY_NATS_URL"], **stack.nats_login("AGENT_", "agent")}
    call = start_simulation(settings, root / "agent", conversation_id, user_id, "--providers", "offline", "-n", "1")
    _, err = call.communicate(timeout=120)
    assert call.returncode == 0, err[-2000:]
