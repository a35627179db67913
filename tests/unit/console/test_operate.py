"""The console's actions as use cases: a call joined or simulated through rooms, open rooms with their agent's
state, dead letters chosen for replay or deletion, and sign-in keys with scopes. In memory, milliseconds."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import pytest
from parley_console import calls, ops, talk
from parley_console.sessions import Session, sign_in_key

from parley_agent.simulate_requests import job_metadata
from parley_contracts.simulation import SimulateCallRequest
from parley_runtime.messaging.redrive import DeadLetter
from parley_runtime.web.keys import KeyRing

from .fakes import FakePlatform


@dataclass
class FakeAgent:
    present: bool = True
    asked: list[SimulateCallRequest] = field(default_factory=list)

    async def simulate(self, request: SimulateCallRequest) -> None:
        self.asked.append(request)
        if not self.present:
            raise talk.NoAgent("no responder")


async def test_a_simulated_call_gets_a_room_from_rooms_and_the_agent_gets_its_metadata_and_lines() -> None:
    platform, agent = FakePlatform(), FakeAgent()
    call = talk.NewSimulatedCall(user_id="ada", language="en", lines=["Hello", "Book Friday"])
    started = await talk.simulate(platform, agent, call)
    assert platform.created == [{"user_id": "ada", "language": "en"}]
    assert started == talk.Simulating(room="room-1", conversation_id="conv-1")
    (request,) = agent.asked
    assert request.room == "room-1" and request.lines == ["Hello", "Book Friday"]
    assert request.metadata == {"conversation_id": "conv-1", "user_id": "ada", "language": "en"}
    assert platform.ended == []


async def test_a_simulated_call_no_agent_takes_closes_its_room_again() -> None:
    platform = FakePlatform()
    with pytest.raises(talk.NoAgent):
        await talk.simulate(platform, FakeAgent(present=False), talk.NewSimulatedCall(user_id="ada", lines=["Hi"]))
    assert platform.ended == ["room-1"]


async def test_talking_gets_a_token_from_rooms_and_the_browser_gets_the_public_livekit_url() -> None:
    platform = FakePlatform()
    joining = await talk.join(platform, talk.NewCall(user_id="ada"), livekit_url="wss://lk.example.com")
    assert joining.url == "wss://lk.example.com" and joining.token == "token-for-room-1" and joining.identity == "ada"
    assert platform.tokens == [("room-1", {"identity": "ada", "name": "ada", "ttl_seconds": talk.TOKEN_TTL_SECONDS})]


def test_a_simulation_request_cannot_smuggle_a_script_or_a_redispatch_into_the_job() -> None:
    request = SimulateCallRequest(
        room="r1", conversation_id="c1", lines=["Hi"],
        metadata={"instructions": "be brief", "simulation": [{"wav": "/etc/passwd"}], "dispatch": "{}"},
    )  # fmt: skip
    assert json.loads(job_metadata(request)) == {
        "instructions": "be brief",
        "conversation_id": "c1",
        "simulation": ["Hi"],
    }


async def test_open_rooms_come_with_their_participants_and_their_agents_state() -> None:
    active = {"name": "a", "status": "active", "created_at": "2026-12-07T10:00:00Z", "agent_session_id": "s"}
    waiting = {"name": "w", "status": "waiting", "created_at": "2026-12-07T11:00:00Z", "agent_redispatches": 1}
    platform = FakePlatform(
        rooms_listed={"active": [active], "waiting": [waiting]},
        room_details={"a": {**active, "participants": [{"identity": "ada"}]}},
    )
    found = await calls.open_rooms(platform)
    assert [r["name"] for r in found] == ["w", "a"]  # newest first
    assert found[0]["agent_state"] == "re-dispatched after a loss"
    assert found[1]["agent_state"] == "in the call" and found[1]["participants"] == [{"identity": "ada"}]


@dataclass
class FakeOperations:
    letters: list[DeadLetter]
    acted: list[tuple[str, list[int] | None]] = field(default_factory=list)

    async def consumers(self) -> list[ops.ConsumerState]:
        return []

    async def dead_letters(self, limit: int) -> list[DeadLetter]:
        return self.letters[:limit]

    async def act(self, action: Literal["replay", "delete"], seqs: Iterable[int] | None) -> list[DeadLetter]:
        chosen = None if seqs is None else list(seqs)
        self.acted.append((action, chosen))
        return [d for d in self.letters if chosen is None or d.seq in chosen]


def _letter(seq: int) -> DeadLetter:
    at = datetime(2026, 12, 7, tzinfo=UTC)
    return DeadLetter(seq, at, "voice.turn_completed.v1.c1", f"e{seq}", "history", "1", "invalid event")


async def test_dead_letters_are_replayed_or_deleted_by_choice_and_nothing_chosen_is_refused() -> None:
    operations = FakeOperations([_letter(3), _letter(5)])
    assert [d.seq for d in await ops.act(operations, "replay", ops.ActionChoice(seqs=[5]))] == [5]
    assert [d.seq for d in await ops.act(operations, "delete", ops.ActionChoice(all=True))] == [3, 5]
    assert operations.acted == [("replay", [5]), ("delete", None)]
    with pytest.raises(ops.NothingChosen):
        await ops.act(operations, "delete", ops.ActionChoice())
    listed = await ops.dead_letters(operations)
    assert listed[0].reason == "invalid event" and not hasattr(listed[0], "data")


def test_sign_in_keys_carry_their_name_and_scopes_and_may_be_given_as_hashes() -> None:
    digest = hashlib.sha256(b"hashed-key").hexdigest()
    keys = KeyRing(["reader:read-key:history.read", f"admin:sha256={digest}", "plain-key"])
    reader, admin = sign_in_key("read-key", keys), sign_in_key("hashed-key", keys)
    assert reader is not None and reader.name == "reader" and reader.scopes == {"history.read"}
    assert admin is not None and admin.name == "admin" and admin.allows("history.erase")
    assert (
        sign_in_key("read-ke", keys) is None
        and sign_in_key("", keys) is None
        and sign_in_key(" read-key", keys) is None
    )
    session = Session(id="s", name="reader", expires_at=0, scopes=("history.read",))
    assert session.allows("history.read") and not session.allows("history.erase")
