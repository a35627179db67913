"""One call's life as a job: what exists before the first await (`open_call`), and how it ends (`Call.finish`).

What happens in between is `conversation.run_call`. Each attempt at a job is a session of its own
(`session_id_for`). The end (whichever exit path comes first: session close -> `on_session_end`, or the job's
shutdown callback on errors and worker shutdown): store the recording, emit `session_ended`, drain the outbox
within the budget and spill the rest to disk. `finish()` is idempotent, so every path persists once. A call
that found another agent in its room (`stood_down`) publishes nothing at all.
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
from livekit.agents import AgentSession, JobContext

import parley_contracts as c
from parley_agent import spill_files
from parley_agent.history_client import Preload
from parley_agent.lease import RoomLease
from parley_agent.metadata import RoomMetadata, parse_room_metadata
from parley_agent.recording import object_key, store_recording
from parley_agent.redaction.audio import silence
from parley_agent.redaction.detect import PresidioDetector
from parley_agent.redaction.policy import call_types
from parley_agent.redaction.publisher import RedactingPublisher
from parley_agent.redaction.redactor import Redactor
from parley_agent.settings import Settings
from parley_agent.state import CallState
from parley_agent.tracker import CallTracker, Publish
from parley_contracts.history import RecentTurn
from parley_runtime.messaging.outbox import Outbox

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
    redacting: RedactingPublisher | None = None  # between the tracker and the outbox, unless redaction is off
    session: AgentSession[Any] | None = None
    reason: str = "job_shutdown"
    # Another agent has this room (`lease`): the call leaves it without a word, and publishes nothing.
    stood_down: bool = False
    lease: RoomLease | None = None
    keeper: asyncio.Task[None] | None = None  # renews the lease
    meeting: asyncio.Future[None] | None = None  # the agent learning who the caller is
    first_audio_after: float | None = None  # seconds from the job's start to the caller hearing the agent
    _finished: asyncio.Event = field(default_factory=asyncio.Event)
    _finishing: bool = False

    @property
    def state(self) -> CallState:
        return self.tracker.state

    @property
    def ending(self) -> bool:
        return self._finishing

    def start(self, resumed_from: str | None = None, loaded: Preload | None = None) -> None:
        """Emit `session_started` (once: `finish` emits it first if the call ends before it started)."""
        self.tracker.start(
            room_sid=self.ctx.job.room.sid or None,
            metadata={"language": self.meta.language} if self.meta.language else None,
            resumed_from=resumed_from,
            turns_loaded=loaded.loaded if loaded else None,
            history_preload=loaded.outcome if loaded else None,
        )

    async def finish(self, reason: str | None = None) -> None:
        """Persist the end of the call once: recording, `session_ended`, outbox drain (bounded)."""
        if self._finishing:
            await self._finished.wait()
            return
        self._finishing = True
        if self.keeper is not None:
            self.keeper.cancel()
        try:
            if self.stood_down:
                await self.outbox.close(timeout=self.settings.drain_timeout_seconds)
                return
            if self.lease is not None:
                await self.lease.release()
            if self.redacting is not None:
                await self.redacting.drain()  # every turn redacted: the recording is silenced where they say
            try:
                recording = await self._store_recording()
            except Exception:  # whatever befell the audio, the call's end and its transcript must go out
                logger.exception("storing the recording failed; the call's end goes out without it")
                recording = None
            self.start()  # a job shut down while it asked history for the recent turns: the start goes out first
            self.tracker.finish(reason or self.reason, recording=recording)
            if self.redacting is not None:
                await self.redacting.drain()
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
        if self.redacting is not None and self.redacting.silences.spans:
            if report.audio_recording_started_at is None:
                logger.warning("recording withheld: the redacted speech in it cannot be placed")
                return None
            spans = self.redacting.silences.relative_to(report.audio_recording_started_at)
            await asyncio.to_thread(silence, path, spans)
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
        analysis_schema=meta.analysis_schema,
    )
    redacting = redacting_publisher(settings, meta, outbox.emit)
    tracker = CallTracker(state, redacting or outbox.emit, agent_name=settings.agent_name)
    return Call(ctx=ctx, settings=settings, meta=meta, outbox=outbox, tracker=tracker, redacting=redacting)


def redacting_publisher(settings: Settings, meta: RoomMetadata, publish: Publish) -> RedactingPublisher | None:
    """What stands between the call and its outbox: redaction of this call's types, or nothing when it has none."""
    types = call_types(
        settings.redact_types, meta.redact_add, meta.redact_remove, rooms_may_remove=settings.redact_rooms_may_remove
    )
    if not types:
        return None
    return RedactingPublisher(publish, Redactor(PresidioDetector.shared(), types, settings.redact_mask))
