"""`make demo`: Parley end to end on this machine, in about a minute, then everything stops.

Starts the embedded stack (NATS with the chart's least-privilege users, one per process), creates three
rooms through the rooms API, runs three spoken conversations through the agent's real job path (one per
room, continuing the room's conversation: the simulated caller's lines are synthesized and heard back by
the agent's speech recognition, its replies are synthesized speech), then prints each conversation's
transcript as the history API returns it, with what the caller said next to what the agent heard and how
long the caller waited for each answer, and where the recordings API stored its transcript and audio.
Finally it erases the last conversation on request and waits until history, recordings and the streams
hold nothing of it and rooms has scrubbed the room. Exits non-zero if anything did not arrive or did not
go, or if NATS refused a service anything. `AGENT_PROVIDERS=offline` types the lines instead (faster).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from parley_devstack import nats_accounts
from parley_devstack.speech import corpus_error_rate
from parley_devstack.stack import Stack

USERS = ["ada", "grace", "linus"]


def _wait(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.3)


def caller_lines(call: int) -> list[str]:
    """What the simulated caller of the demo's `call`-th conversation says (the agent's scripts, in turn)."""
    from parley_agent.simulate import SCRIPTS  # the demo tours the whole workspace

    return [line for line in SCRIPTS[call % len(SCRIPTS)] if isinstance(line, str)]


def print_transcript(turns: list[dict[str, Any]], said: list[str]) -> None:
    """Each turn; a caller's turn with what was said, when the recognizer heard otherwise; a reply with how long
    the caller waited for it (from the end of their speech to the agent's first audio)."""
    pairs: list[tuple[str, str]] = []
    for t in turns:
        wait = (t.get("metrics") or {}).get("e2e_latency")
        suffix = f"   [caller waited {wait * 1000:.0f} ms]" if wait is not None else ""
        cut = " (cut off by the caller)" if t["interrupted"] else ""
        print(f"  {t['seq']:>2} {t['role']:<9} {t['text']}{cut}{suffix}")
        if t["role"] == "user" and len(pairs) < len(said):
            line = said[len(pairs)]
            pairs.append((line, str(t["text"])))
            print(f"     {'said':<9} {line}")
    if pairs:
        print(f"  word error rate of what the agent heard: {corpus_error_rate(pairs):.0%}")


def run(root: Path) -> int:
    # Every process connects to NATS as its own least-privilege user from the chart, as in production.
    stack = Stack(root, simulated_calls=0, chart_users=True)
    try:
        env = stack.start()
        auth = {"Authorization": f"Bearer {env['PARLEY_API_KEY']}"}
        rooms = httpx.Client(base_url=env["PARLEY_ROOMS_URL"], headers=auth, timeout=10)
        history = httpx.Client(base_url=env["PARLEY_HISTORY_URL"], headers=auth, timeout=10)
        recordings = httpx.Client(base_url=env["PARLEY_RECORDINGS_URL"], headers=auth, timeout=10)
        created = []
        for user in USERS:
            r = rooms.post(
                "/v1/rooms",
                json={"user_id": user, "language": "en"},
                headers={"Idempotency-Key": f"demo-{user}-{time.time_ns()}"},
            )
            r.raise_for_status()
            created.append(r.json())
            print(f"room {r.json()['name']} for {user}: conversation {r.json()['conversation_id']}")
        conversations = [room["conversation_id"] for room in created]
        agent_env = {
            **os.environ,
            "AGENT_NATS_URL": env["PARLEY_NATS_URL"],
            "AGENT_PROVIDERS": os.environ.get("AGENT_PROVIDERS", "local"),
            "AGENT_STATE_DIR": str((root / "agent").resolve()),
            "AGENT_PORT": "0",
            **stack.nats_login("AGENT_", "agent"),
        }
        args = [sys.executable, "-m", "parley_agent", "simulate", "--exit", "-n", str(len(conversations))]
        for room in created:  # each call happens in the room the API created, continuing its conversation
            args += ["--conversation", room["conversation_id"], "--room", room["name"]]
        print(f"running three simulated conversations through the agent ({agent_env['AGENT_PROVIDERS']} voice)...")
        calls_log = stack.logs / "agent-calls.log"
        with calls_log.open("ab") as log:
            calls = subprocess.run(args, env=agent_env, stdout=log, stderr=subprocess.STDOUT, timeout=180)
        if calls.returncode != 0:
            print(f"the agent failed ({calls.returncode}); the end of {calls_log}:", file=sys.stderr)
            print(calls_log.read_text(errors="replace")[-4000:], file=sys.stderr)
            return 1

        def turns(cid: str) -> list[dict[str, object]]:
            r = history.get(f"/v1/conversations/{cid}/turns", params={"limit": 50})
            return list(r.json().get("items", [])) if r.status_code == 200 else []

        def stored(cid: str) -> list[dict[str, object]]:
            r = recordings.get("/v1/recordings", params={"conversation_id": cid})
            return list(r.json().get("items", [])) if r.status_code == 200 else []

        _wait(lambda: all(len(turns(c)) >= 7 for c in conversations), 60, "the turns in history")
        _wait(lambda: all(len(stored(c)) >= 3 for c in conversations), 60, "the recordings")
        for i, (user, cid) in enumerate(zip(USERS, conversations, strict=True)):
            print(f"\n=== conversation {cid} ({user}) ===")
            print_transcript(turns(cid), caller_lines(i))
            for rec in stored(cid):
                print(f"  [{rec['kind']}/{rec['format']}] {rec['bytes']:>7} bytes  {rec['uri']}")
        _wait(
            lambda: all(rooms.get(f"/v1/rooms/{r['name']}").json()["status"] == "ended" for r in created),
            30,
            "the rooms to follow their sessions",
        )
        for room in created:
            r = rooms.get(f"/v1/rooms/{room['name']}").json()
            print(
                f"room {r['name']}: {r['status']}, agent session {r['agent_session_id']}, {r['duration_seconds']:.1f} s"
            )
        gone = conversations[-1]
        print(f"\nerasing conversation {gone} on request (DELETE /v1/conversations/{gone})...")
        erasure = history.delete(f"/v1/conversations/{gone}").json()
        _wait(lambda: history.get(f"/v1/erasures/{gone}").json()["status"] == "done", 30, "the erasure's purge")
        _wait(lambda: not stored(gone), 30, "recordings to delete the conversation's objects")
        room_url = f"/v1/rooms/{created[-1]['name']}"
        _wait(lambda: rooms.get(room_url).json()["erased_at"] is not None, 30, "rooms to scrub the room")
        left = history.get(f"/v1/conversations/{gone}").status_code
        scrubbed = rooms.get(room_url).json()
        print(
            f"erased {erasure['turns_deleted']} turns and {erasure['sessions_deleted']} session; history answers"
            f" {left}, recordings lists {len(stored(gone))} objects, the streams are purged; room"
            f" {scrubbed['name']} keeps its status ({scrubbed['status']}) with user id {scrubbed['user_id']},"
            f" metadata {scrubbed['metadata']} and {len(scrubbed['participants'])} participants"
        )
        violations = nats_accounts.violations(stack.nats_log())
        if violations:
            print("\nNATS refused what a service needed (the chart's users lack a permission):")
            print("\n".join(violations[:10]))
            return 1
        print("\ndemo: ok")
        return 0
    finally:
        stack.stop()


def main() -> int:
    return run(Path(os.environ.get("PARLEY_DEMO_ROOT", ".parley/demo")))


if __name__ == "__main__":
    sys.exit(main())
