"""Events published by the recordings service once an object is durably in blob storage."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

import msgspec

from parley_contracts._base import NonNegativeInt, SessionEvent


class RecordingStored(SessionEvent, frozen=True, kw_only=True, omit_defaults=True, tag="recording_stored.v1"):
    """A transcript or audio object of a session was written to blob storage and verified."""

    recording_id: UUID
    kind: Literal["audio", "transcript"]
    uri: str
    bytes: NonNegativeInt
    sha256: Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
    content_type: str
