"""Events published by the recordings service once an object is durably in blob storage."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from parley_contracts._base import NonNegativeInt, SessionEvent


class RecordingStored(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="recording_stored.v1"):
    """A transcript or audio object of a session was written to blob storage and verified.

    A transcript of a session whose agent was lost is `provisional` (built by history from the stored turns);
    should the agent's own end still arrive, the transcript is announced again under the same `recording_id`,
    not provisional, at its own `uri`: the earlier object is deleted."""

    recording_id: UUID
    kind: Literal["audio", "transcript"]
    uri: str
    bytes: NonNegativeInt
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    content_type: str
    provisional: bool = False
