"""What happens in a call once it is open: the agent gets its context, takes the room, speaks first, listens.

1. **Context.** The turns history holds (`history_client.preload`): the conversation's recent ones, the user's
   across conversations (room metadata `memory: user`), or, for a call taken over from a lost agent, the whole
   interrupted session. The lost session is named by rooms' re-dispatch (`resumed_from` in the job's metadata),
   or found in history's recent turns for a job LiveKit resumed under the same job id.
2. **The room.** One agent per room (`lease`): an agent whose room another agent holds leaves without a word.
3. **First words.** The agent greets the caller (a room's `greeting`, the configured one, or none), or, taking
   over, apologises for the cut and picks up from the interrupted session: a turn like any other.
4. **The call**, until the session closes; the lease is renewed meanwhile, and a replacement taking the room
   makes this agent leave at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from livekit import rtc
from livekit.agents import AgentSession, room_io
from livekit.agents.voice.agent_session import RecordingOptions
from livekit.agents.voice.events import CloseEvent

from parley_agent.assistant import ASSISTANT, ParleyAgent, prompt
from parley_agent.call import SIMULATED_CALLER, Call, default_instructions, participant_kind, resumed_session
from parley_agent.caller import SpeakingCaller
from parley_agent.history_client import Preload, preload, seed_context
from parley_agent.lease import RoomLease
from parley_agent.lease_store import NatsLeaseStore
from parley_agent.metadata import dispatch_resumed_from
from parley_agent.providers import ProviderSet
from parley_agent.simulated_call import Utterance, attach_speaker, caller_input, speak, still_to_say
from parley_agent.tracker import close_reason

logger = logging.getLogger(__name__)

REPLACED = "replaced_by_another_agent"


async def load_context(call: Call) -> tuple[Preload, str | None]:
    """The turns to start with, and the lost session this call takes over (if it does)."""
    settings, meta = call.settings, call.meta
    dispatch = meta.simulated_dispatch if call.ctx.is_fake_job() else call.ctx.job.metadata
    resumed_from = dispatch_resumed_from(dispatch)

    async def ask(resuming: str | None) -> Preload:
        budget = settings.resume_timeout_seconds if resuming else settings.history_timeout_seconds
        return await preload(
            call.outbox, meta.conversation_id, limit=settings.history_limit, timeout=budget,
            memory=meta.memory, user_id=meta.user_id, resumed_from=resuming,
        )  # fmt: skip

    loaded = await ask(resumed_from)
    if resumed_from is None:  # a job LiveKit resumed: its earlier attempt is among the conversation's turns
        resumed_from = resumed_session(call.ctx.job.id, call.state.session_id, loaded.turns)
        if resumed_from is not None:
            loaded = await ask(resumed_from)
    return loaded, resumed_from


async def take_room(call: Call, resumed_from: str | None) -> bool:
    """True when this agent may speak in the room (it holds the lease, or the lease store does not answer)."""
    settings = call.settings
    try:
        async with asyncio.timeout(settings.history_timeout_seconds):
            nc = await call.outbox.connected()
    except TimeoutError:
        logger.warning("room lease unavailable: NATS is not connected", extra={"room": call.state.room_name})
        return True
    call.lease = RoomLease(
        NatsLeaseStore(nc, timeout=settings.history_timeout_seconds),
        call.state.room_name,
        call.state.session_id,
        renew_seconds=settings.lease_renew_seconds,
        stale_seconds=settings.lease_stale_seconds,
    )
    return await call.lease.acquire(resumed_from)


async def run_call(call: Call, providers: ProviderSet) -> None:
    ctx, settings, meta = call.ctx, call.settings, call.meta
    opened = time.monotonic()
    loaded, resumed_from = await load_context(call)
    if not await take_room(call, resumed_from):
        call.stood_down = True
        ctx.shutdown("another agent has the room")
        return
    call.start(resumed_from, loaded)
    agent = ParleyAgent(
        ASSISTANT,
        meta.instructions or settings.instructions or default_instructions(),
        peers=meta.agents,
        on_transfer=call.tracker.set_handoff_reason,
        chat_ctx=seed_context(loaded.turns),
    )
    peers = tuple(p.name for p in meta.agents)
    kwargs = providers.session_kwargs(meta.language, peers, on_words=call.tracker.heard)
    session: AgentSession[Any] = AgentSession(**kwargs)
    call.session = session
    call.tracker.attach(session)

    def on_close(ev: CloseEvent) -> None:
        if call.reason == "job_shutdown":  # a reason set on purpose (the caller left, a replacement) stays
            call.reason = close_reason(ev)
        ctx.shutdown(call.reason)  # closing the session ends the job: no lingering job per call

    session.on("close", on_close)
    call.keeper = asyncio.create_task(_keep_room(call, session), name="room-lease")
    record: RecordingOptions = {"audio": settings.record_audio, "traces": False, "logs": False, "transcript": False}
    if ctx.is_fake_job():
        await _run_simulated(call, session, agent, record, loaded, resumed_from, opened, providers)
        return
    _track_room_participants(call, ctx.room, agent)
    await session.start(
        agent,
        room=ctx.room,
        room_options=room_io.RoomOptions(close_on_disconnect=True, delete_room_on_close=False),
        record=record,
    )
    _watch_first_audio(call, session, opened)
    callers = call.state.callers()
    await agent.meet(callers[0] if callers else None)
    _speak_first(call, session, resumed_from)


def _first_instruction(call: Call, resumed_from: str | None) -> str | None:
    if resumed_from is not None:
        return prompt("resume")
    greeting = call.meta.greeting if call.meta.greeting is not None else call.settings.greeting
    if greeting is None:
        return prompt("greeting")
    return greeting or None  # an empty greeting: the agent waits for the caller


def _speak_first(call: Call, session: AgentSession[Any], resumed_from: str | None) -> Any:
    instruction = _first_instruction(call, resumed_from)
    return session.generate_reply(instructions=instruction) if instruction else None


def _watch_first_audio(call: Call, session: AgentSession[Any], opened: float) -> None:
    """Log how long after the job opened the caller first heard the agent."""
    output = session.output.audio
    if output is None:
        return

    def started(_: object) -> None:
        if call.first_audio_after is None:
            call.first_audio_after = time.monotonic() - opened
            logger.info("the agent spoke first", extra={"after_ms": round(call.first_audio_after * 1000)})

    output.on("playback_started", started)


async def _keep_room(call: Call, session: AgentSession[Any]) -> None:
    """Renew the room's lease until the call ends; leave the call when a replacement took the room."""
    if call.lease is None:
        return
    while not call.ending:
        await asyncio.sleep(call.settings.lease_renew_seconds)
        if not call.ending and not await call.lease.renew():
            call.reason = REPLACED
            with contextlib.suppress(Exception):
                session.interrupt()
            await session.aclose()
            return


async def _run_simulated(
    call: Call,
    session: AgentSession[Any],
    agent: ParleyAgent,
    record: RecordingOptions,
    loaded: Preload,
    resumed_from: str | None,
    opened: float,
    providers: ProviderSet,
) -> None:
    """A headless call (`simulated_call`): the caller types (offline) or speaks (local)."""
    mic = caller_input(providers.local)
    session.input.audio = mic
    attach_speaker(session, spoken=providers.local is not None)
    await session.start(agent, record=record)
    _watch_first_audio(call, session, opened)
    call.tracker.participant_joined(SIMULATED_CALLER, "standard")
    await agent.meet(call.state.participant_states[SIMULATED_CALLER])
    greeting = _speak_first(call, session, resumed_from)
    if greeting is not None:
        await greeting
    said = [t.text for t in loaded.turns if t.role == "user" and t.session_id == resumed_from]
    script = [u for u in map(Utterance.parse, call.meta.simulation) if u is not None]
    utterances = still_to_say(script, said)
    if isinstance(mic, SpeakingCaller) and providers.local is not None:
        barge_in = call.meta.simulated_barge_in
        await speak(session, mic, providers.local, utterances, barge_in=barge_in, hung_up=lambda: call.ending)
    else:
        for utterance in utterances:
            if call.reason == REPLACED:
                return
            if utterance.text is not None:  # a WAV cannot be typed
                await session.run(user_input=utterance.text)
    call.tracker.participant_left(SIMULATED_CALLER)
    call.reason = "participant_disconnected"
    await session.aclose()


def _track_room_participants(call: Call, room: rtc.Room, agent: ParleyAgent) -> None:
    def joined(p: rtc.RemoteParticipant) -> None:
        call.tracker.participant_joined(
            p.identity, participant_kind(p), metadata=p.metadata or None, attributes=dict(p.attributes)
        )
        if agent.caller is None and call.state.callers():  # the first caller: the agent learns who it talks to
            agent.caller = call.state.callers()[0]
            call.meeting = asyncio.ensure_future(agent.meet(agent.caller))

    for p in room.remote_participants.values():
        joined(p)
    room.on("participant_connected", joined)
    room.on("participant_disconnected", lambda p: call.tracker.participant_left(p.identity))
