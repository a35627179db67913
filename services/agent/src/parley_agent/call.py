"""One call, from job start to the last event: the per-job logic the worker entrypoint runs.

Start: read the room metadata, open the outbox, seed the chat context from `history.v1.recent` (bounded
wait), emit `session_started` (with `resumed_from` when history holds an earlier attempt at the same job: a
job LiveKit resumed on this worker after losing the one that had it; or when the rooms service dispatched
the agent again and named the lost session), start the AgentSession with the tracker attached. Each
attempt at a job is a session of its own (`session_id_for`).
End (whichever exit path comes first: session close -> `on_session_end`, or the job's shutdown
callback on errors and worker shutdown): store the recording, emit `session_ended`, drain the outbox
within the budget and spill the rest to disk. `finish()` is idempotent, so every path persists once.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from livekit import rtc
from livekit.agents import Agent, AgentSession, JobContext, room_io
from livekit.agents.voice.agent_session import RecordingOptions
from livekit.agents.voice.events import CloseEvent

import parley_contracts as c
from parley_agent import spill_files
from parley_agent.history_client import fetch_recent, seed_context
from parley_agent.metadata import RoomMetadata, dispatch_resumed_from, parse_room_metadata
from parley_agent.offline import SimulatedCallerAudio, SimulatedSpeaker
from parley_agent.providers import ProviderSet
from parley_agent.recording import object_key, store_recording
from parley_agent.settings import Settings
from parley_agent.state import CallState
from parley_agent.tracker import CallTracker, close_reason
from parley_contracts.history import RecentTurn
from parley_runtime.outbox import Outbox

logger = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_JOB_PART_MAX = 128 - 9  # a session id is at most 128 characters: room for "-" and the attempt's 8 digits
SIMULATED_CALLER = "simulated-caller"


def default_instructions() -> str:
    return (files("parley_agent") / "prompts" / "default.md").read_text().strip()


def job_part(job_id: str) -> str:
    """The job id as the leading part of a session id (letters, digits, `_` and `-`, starting with one of the
    first two)."""
    return _UNSAFE.sub("-", job_id).lstrip("_-")[:_JOB_PART_MAX] or "job"


def session_id_for(job_id: str) -> str:
    """A new session id for one attempt at a job: `<job id>-<8 random hex digits>`.

    LiveKit hands a job whose worker was lost to another worker with the same job id (a resumed job). Were
    the session id the job id, the second attempt would number its turns 1, 2, 3... again under the same
    session, and history would take them for redeliveries of the first attempt's turns and drop them.
    """
    return f"{job_part(job_id)}-{secrets.token_hex(4)}"


def resumed_session(job_id: str, session_id: str, prior: list[RecentTurn]) -> str | None:
    """The session of an earlier attempt at this job, if history's recent turns hold one (the newest)."""
    prefix = f"{job_part(job_id)}-"
    earlier = [t for t in prior if t.session_id.startswith(prefix) and t.session_id != session_id]
    return max(earlier, key=lambda t: t.at).session_id if earlier else None


def participant_kind(p: rtc.RemoteParticipant) -> str:
    kinds = {
        rtc.ParticipantKind.PARTICIPANT_KIND_STANDARD: "standard",
        rtc.ParticipantKind.PARTICIPANT_KIND_SIP: "sip",
        rtc.ParticipantKind.PARTICIPANT_KIND_AGENT: "agent",
        rtc.ParticipantKind.PARTICIPANT_KIND_INGRESS: "ingress",
        rtc.ParticipantKind.PARTICIPANT_KIND_EGRESS: "egress",
    }
    return kinds.get(p.kind, "unknown")


@dataclass
class Call:
    ctx: JobContext
    settings: Settings
    meta: RoomMetadata
    outbox: Outbox
    tracker: CallTracker
    session: AgentSession[Any] | None = None
    reason: str = "job_shutdown"
    _finished: asyncio.Event = field(default_factory=asyncio.Event)
    _finishing: bool = False

    @property
    def state(self) -> CallState:
        return self.tracker.state

    def start(self, resumed_from: str | None = None) -> None:
        """Emit `session_started` (once: `finish` emits it first if the call ends before it started)."""
        self.tracker.start(
            room_sid=self.ctx.job.room.sid or None,
            metadata={"language": self.meta.language} if self.meta.language else None,
            resumed_from=resumed_from,
        )

    async def finish(self, reason: str | None = None) -> None:
        """Persist the end of the call once: recording, `session_ended`, outbox drain (bounded)."""
        if self._finishing:
            await self._finished.wait()
            return
        self._finishing = True
        try:
            try:
                recording = await self._store_recording()
            except Exception:  # whatever befell the audio, the call's end and its transcript must go out
                logger.exception("storing the recording failed; the call's end goes out without it")
                recording = None
            self.start()  # a job shut down while it asked history for the recent turns: the start goes out first
            self.tracker.finish(reason or self.reason, recording=recording)
            left = await self.outbox.close(timeout=self.settings.drain_timeout_seconds)
            if left:
                logger.warning("events kept on disk for the next worker", extra={"count": left})
                if self.outbox.spill_path is not None:
                    spill_files.release(self.outbox.spill_path)  # this job process may live on for hours
        finally:
            self._finished.set()

    async def _store_recording(self) -> c.RecordingRef | None:
        if not self.settings.record_audio or self.session is None:
            return None
        try:
            report = self.ctx.make_session_report(self.session)
        except Exception as exc:  # the recorder may still be busy on a crash path
            logger.warning("no session report", extra={"error": type(exc).__name__})
            return None
        path = Path(report.audio_recording_path) if report.audio_recording_path else None
        if path is None or not path.exists() or path.stat().st_size == 0:
            return None
        return await store_recording(
            self.outbox.nc,
            path,
            key=object_key(self.state.conversation_id, self.state.session_id),
            pending_dir=self.settings.state_path / "audio-pending",
            timeout=self.settings.recording_upload_timeout_seconds,
            duration=report.duration,
        )


def open_call(ctx: JobContext, settings: Settings) -> Call:
    """Everything that must exist before the first await: state, outbox, tracker."""
    meta = parse_room_metadata(ctx.job.room.metadata)
    session_id = session_id_for(ctx.job.id)
    spill = spill_files.spill_path(settings.state_path, session_id)
    outbox = Outbox(settings.nats, name=f"agent-{session_id}", maxsize=settings.outbox_max_events, spill_path=spill)
    outbox.start()
    state = CallState(
        conversation_id=meta.conversation_id,
        session_id=session_id,
        room_name=ctx.job.room.name or "unknown",
        session_start=c.utcnow(),
        user_id=meta.user_id,
    )
    tracker = CallTracker(state, outbox.emit, agent_name=settings.agent_name)
    return Call(ctx=ctx, settings=settings, meta=meta, outbox=outbox, tracker=tracker)


async def run_call(call: Call, providers: ProviderSet) -> None:
    ctx, settings, meta = call.ctx, call.settings, call.meta
    prior = await fetch_recent(
        call.outbox, meta.conversation_id, limit=settings.history_limit, timeout=settings.history_timeout_seconds
    )
    call.start(resumed_session(ctx.job.id, call.state.session_id, prior) or dispatch_resumed_from(ctx.job.metadata))
    agent = Agent(
        instructions=meta.instructions or settings.instructions or default_instructions(), chat_ctx=seed_context(prior)
    )
    session: AgentSession[Any] = AgentSession(**providers.session_kwargs(meta.language))
    call.session = session
    call.tracker.attach(session)

    def on_close(ev: CloseEvent) -> None:
        call.reason = close_reason(ev)
        ctx.shutdown(call.reason)  # closing the session ends the job: no lingering job per call

    session.on("close", on_close)
    record: RecordingOptions = {"audio": settings.record_audio, "traces": False, "logs": False, "transcript": False}
    if ctx.is_fake_job():
        await _run_simulated(call, session, agent, record)
        return
    _track_room_participants(call, ctx.room)
    await session.start(
        agent,
        room=ctx.room,
        room_options=room_io.RoomOptions(close_on_disconnect=True, delete_room_on_close=False),
        record=record,
    )


async def _run_simulated(call: Call, session: AgentSession[Any], agent: Agent, record: RecordingOptions) -> None:
    """A headless call: the scripted caller's lines go through the same session, tracker and outbox."""
    session.input.audio = SimulatedCallerAudio()
    session.output.audio = SimulatedSpeaker()
    await session.start(agent, record=record)
    call.tracker.participant_joined(SIMULATED_CALLER, "standard")
    for line in call.meta.simulation:
        await session.run(user_input=line)
    call.tracker.participant_left(SIMULATED_CALLER)
    call.reason = "participant_disconnected"
    await session.aclose()


def _track_room_participants(call: Call, room: rtc.Room) -> None:
    for p in room.remote_participants.values():
        call.tracker.participant_joined(p.identity, participant_kind(p))
    room.on("participant_connected", lambda p: call.tracker.participant_joined(p.identity, participant_kind(p)))
    room.on("participant_disconnected", lambda p: call.tracker.participant_left(p.identity))
