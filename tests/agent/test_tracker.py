"""In-process AgentSessions with the scripted LLM produce exactly the events the contract promises."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from livekit.agents import Agent, AgentSession

import parley_contracts as c
from parley_agent.history_client import seed_context
from parley_agent.offline import ScriptedLLM, SimulatedCallerAudio, SimulatedSpeaker, ToneTTS
from parley_agent.state import CallState
from parley_agent.tracker import CallTracker
from parley_contracts.history import RecentTurn
from tests.support import eventually

T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def _tracker(events: list[c.Event]) -> CallTracker:
    state = CallState(
        conversation_id="conv-1", session_id="sess-1", room_name="room-1", session_start=T0, user_id="ada"
    )
    return CallTracker(state, events.append, agent_name="parley-agent")


async def test_a_text_session_emits_the_exact_event_sequence() -> None:
    events: list[c.Event] = []
    tracker = _tracker(events)
    tracker.start(room_sid="RM_1")
    tracker.participant_joined("ada", "standard")
    llm = ScriptedLLM(["Hello Ada.", "Friday works."])
    async with AgentSession(llm=llm) as session:
        tracker.attach(session)
        await session.start(Agent(instructions="be brief"))
        await session.run(user_input="Hi, I'm Ada")
        await session.run(user_input="Can we meet Friday?")
    tracker.participant_left("ada")
    tracker.finish("participant_disconnected")

    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "SessionStarted",
        "ParticipantJoined",
        "TurnCompleted",
        "TurnCompleted",
        "TurnCompleted",
        "TurnCompleted",
        "ParticipantLeft",
        "SessionEnded",
    ]
    turns = [e for e in events if isinstance(e, c.TurnCompleted)]
    assert [(t.seq, t.role, t.text) for t in turns] == [
        (1, "user", "Hi, I'm Ada"),
        (2, "assistant", "Hello Ada."),
        (3, "user", "Can we meet Friday?"),
        (4, "assistant", "Friday works."),
    ]
    assert all(e.conversation_id == "conv-1" and e.session_id == "sess-1" for e in turns)
    assert len({e.event_id for e in events}) == len(events)
    assert turns[1].usage is not None and turns[1].usage.completion_tokens == 2
    assert turns[1].metrics is not None and turns[1].metrics.llm_ttft is not None
    ended = events[-1]
    assert isinstance(ended, c.SessionEnded)
    assert ended.turn_count == 4
    assert [m.seq for m in ended.messages] == [1, 2, 3, 4]
    # A turn's time is one time: history serves the turn's occurred_at back as the message's `at`.
    assert [t.occurred_at for t in turns] == [m.at for m in ended.messages]
    assert ended.participants[0].identity == "ada" and ended.participants[0].left_at is not None
    assert ended.usage is not None and ended.usage.completion_tokens == 4
    # Every event is a valid contract event on the wire.
    for e in events:
        assert c.decode(c.encode(e)) == e


async def test_prior_history_from_the_history_service_is_visible_to_the_llm() -> None:
    prior = [
        RecentTurn(session_id="old", seq=1, role="user", text="My name is Ada.", at=T0),
        RecentTurn(session_id="old", seq=2, role="assistant", text="Nice to meet you, Ada.", at=T0),
    ]
    llm = ScriptedLLM(["You told me {n_prior} things before."])
    events: list[c.Event] = []
    tracker = _tracker(events)
    async with AgentSession(llm=llm) as session:
        tracker.attach(session)
        await session.start(Agent(instructions="x", chat_ctx=seed_context(prior)))
        await session.run(user_input="What's my name?")
    seen = llm.calls[0]
    assert ("user", "My name is Ada.") in seen
    assert ("assistant", "Nice to meet you, Ada.") in seen
    assert seen[-1] == ("user", "What's my name?")
    # The seeded turns are context, not new turns of this session.
    assert [t.seq for t in events if isinstance(t, c.TurnCompleted)] == [1, 2]


async def test_a_barge_in_marks_the_assistant_turn_interrupted() -> None:
    events: list[c.Event] = []
    tracker = _tracker(events)
    llm = ScriptedLLM(["This is a very long answer that keeps going on and on for quite a while indeed."])
    session: AgentSession[None] = AgentSession(llm=llm, tts=ToneTTS(ms_per_char=40, max_seconds=3))
    session.input.audio = SimulatedCallerAudio()
    session.output.audio = SimulatedSpeaker()
    tracker.attach(session)
    await session.start(Agent(instructions="x"))
    session.generate_reply(user_input="Tell me everything")
    await eventually(lambda: session.agent_state == "speaking", interval=0.02, what="the agent speaking")
    await asyncio.sleep(0.3)  # it speaks for a while before the interruption
    session.interrupt()
    await asyncio.sleep(0.3)  # and the interruption takes effect before the session closes
    await session.aclose()
    turns = [e for e in events if isinstance(e, c.TurnCompleted)]
    assert [t.role for t in turns] == ["user", "assistant"]
    assert turns[1].interrupted is True
    assert turns[0].interrupted is False


async def test_a_nul_in_a_message_is_left_out_of_its_turn_and_the_summary() -> None:
    # PostgreSQL cannot store a NUL: history would dead-letter a turn that carried one.
    events: list[c.Event] = []
    tracker = _tracker(events)
    tracker.start(room_sid="RM_1")
    async with AgentSession(llm=ScriptedLLM(["Hello\x00 Ada.", "\x00"])) as session:
        tracker.attach(session)
        await session.start(Agent(instructions="x"))
        await session.run(user_input="Hi\x00")
        await session.run(user_input="Still there?")
    tracker.finish("participant_disconnected")
    turns = [e for e in events if isinstance(e, c.TurnCompleted)]
    # A reply that was nothing but a NUL is no turn, like any empty one.
    assert [(t.seq, t.text) for t in turns] == [(1, "Hi"), (2, "Hello Ada."), (3, "Still there?")]
    ended = events[-1]
    assert isinstance(ended, c.SessionEnded)
    assert [m.text for m in ended.messages] == ["Hi", "Hello Ada.", "Still there?"]
