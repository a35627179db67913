"""The agent's pure parts: what it knows of the caller, what its events carry, and the room's lease."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

import parley_contracts as c
from parley_agent.assistant import with_caller
from parley_agent.lease import Holder, LeaseStoreDown, LeaseTaken, RoomLease
from parley_agent.state import CallState, ParticipantState
from parley_agent.tracker import CallTracker, bounded_attributes

T0 = datetime(2026, 12, 7, 10, tzinfo=UTC)
CALLER = ParticipantState(
    "sip_+15105550100", "sip", T0, metadata='{"crm_id": "C-1042"}', attributes={"sip.phoneNumber": "+15105550100"}
)


def test_instructions_name_the_caller_from_their_attributes_and_metadata() -> None:
    instructions = "Greet the caller calling from {{caller.number}}; their CRM id is {{ caller.metadata.crm_id }}."
    filled = with_caller(instructions, CALLER)
    assert filled.startswith("Greet the caller calling from +15105550100; their CRM id is C-1042.")
    assert "phone number +15105550100" in filled and '{"crm_id": "C-1042"}' in filled
    assert with_caller("Hi {{caller.attributes.tier}}", CALLER).startswith("Hi (unknown)")
    assert with_caller("Hi {{caller.identity}}", None) == "Hi (unknown)"


def test_participant_joined_carries_metadata_and_attributes_cut_to_their_bounds() -> None:
    events: list[c.Event] = []
    tracker = CallTracker(CallState("conv", "sess", "room", T0), events.append, agent_name="a")
    many = {f"k{i:03d}": "v" * 5000 for i in range(100)}
    tracker.participant_joined("ada", "sip", metadata="m" * 10_000, attributes=many)
    (joined,) = events
    assert isinstance(joined, c.ParticipantJoined)
    assert joined.metadata is not None and len(joined.metadata) == c.agent.PARTICIPANT_METADATA_MAX
    assert len(joined.attributes) == c.agent.ATTRIBUTES_MAX
    assert all(len(v) == c.agent.ATTRIBUTE_VALUE_MAX for v in joined.attributes.values())
    c.decode(c.encode(joined))  # a valid event: no consumer dead-letters it
    assert bounded_attributes({"": "x", "a": "b"}) == {"a": "b"}


def test_a_handoff_is_published_and_the_turns_after_it_are_the_new_agents() -> None:
    events: list[c.Event] = []
    tracker = CallTracker(CallState("conv", "sess", "room", T0), events.append, agent_name="a")
    tracker.state.current_agent = "assistant"
    tracker.set_handoff_reason("wants to book")
    tracker.handed_off("booking", tracker.pending_handoff_reason, T0)
    message = tracker.state.add_message("user", "Friday", T0)
    (handoff,) = events
    assert isinstance(handoff, c.AgentHandoff)
    assert (handoff.from_agent, handoff.to_agent, handoff.reason) == ("assistant", "booking", "wants to book")
    assert message.agent == "booking"


class MemoryLeases:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[bytes, int]] = {}
        self.revision = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise LeaseStoreDown("down")

    async def read(self, key: str) -> tuple[bytes, int] | None:
        self._check()
        return self.keys.get(key)

    async def create(self, key: str, value: bytes) -> int:
        self._check()
        if key in self.keys:
            raise LeaseTaken(key)
        return self._put(key, value)

    async def update(self, key: str, value: bytes, revision: int) -> int:
        self._check()
        if self.keys.get(key, (b"", -1))[1] != revision:
            raise LeaseTaken(key)
        return self._put(key, value)

    async def delete(self, key: str, revision: int) -> None:
        self._check()
        if self.keys.get(key, (b"", -1))[1] != revision:
            raise LeaseTaken(key)
        del self.keys[key]

    def _put(self, key: str, value: bytes) -> int:
        self.revision += 1
        self.keys[key] = (value, self.revision)
        return self.revision


async def test_one_agent_per_room_and_a_replacement_takes_over_from_the_one_it_replaces() -> None:
    store, now = MemoryLeases(), [1000.0]

    def lease(session: str) -> RoomLease:
        return RoomLease(store, "call-1", session, stale_seconds=6, clock=lambda: now[0])

    first = lease("s-first")
    assert await first.acquire()
    assert not await lease("s-other").acquire()  # someone else's, fresh: it must not speak
    replacement = lease("s-new")
    assert await replacement.acquire(resumed_from="s-first")  # sent to replace the lost agent
    assert not await first.renew()  # the lost one comes back: it must leave
    now[0] += 3
    assert await replacement.renew()
    assert not await lease("s-first-again").acquire(resumed_from="s-first")  # names the old holder, not this one
    now[0] += 10
    assert await lease("s-late").acquire()  # the holder went silent: the room is free
    holder = msgspec.json.decode(next(iter(store.keys.values()))[0], type=Holder)
    assert holder.session_id == "s-late"


async def test_a_lease_store_that_does_not_answer_never_keeps_a_call_from_being_answered() -> None:
    store = MemoryLeases()
    store.down = True
    lease = RoomLease(store, "call-1", "s1")
    assert await lease.acquire()
    assert await lease.renew()
