"""REST API under /v1: list recordings, one recording's metadata, its content with HTTP range support, and a
signed link that reads the content straight from blob storage (no bytes through this service)."""

from __future__ import annotations

import logging
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated

import msgspec
from litestar import Controller, Request, Router, get
from litestar.datastructures import CacheControlHeader
from litestar.di import NamedDependency
from litestar.exceptions import ClientException, HTTPException, NotFoundException, ValidationException
from litestar.params import FromPath, Parameter
from litestar.response import Stream

from parley_contracts import ID_PATTERN
from parley_recordings.blobs import BlobMissing, BlobStore, SigningUnsupported
from parley_recordings.repo import Recording, RecordingRepo
from parley_recordings.settings import LINK_LIMIT_SECONDS, Settings
from parley_runtime.web.cursors import CURSOR_PARAMETER, cursor_time, decode_cursor, encode_cursor
from parley_runtime.web.openapi import problems

logger = logging.getLogger(__name__)

ID = ID_PATTERN
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
Repo = NamedDependency[RecordingRepo]
Blobs = NamedDependency[BlobStore]
Config = NamedDependency[Settings]
LINK_SECONDS = 300  # a link's life when the request names none (capped by RECORDINGS_LINK_MAX_SECONDS)
# The largest `expires_in` the document states. `recordings_routes` puts the deployment's own limit in its
# place (annotations are read with the router's signature namespace), so the OpenAPI document tells a client
# the limit it will meet.
LINK_MAX_SECONDS = LINK_LIMIT_SECONDS


class RecordingOut(msgspec.Struct):
    id: uuid.UUID
    session_id: str
    conversation_id: str
    kind: str
    format: str
    uri: str
    bytes: int
    sha256: str
    content_type: str
    created_at: datetime
    content_url: str
    # A transcript built by history for a call whose agent was lost; the agent's own, if it ever arrives,
    # replaces it (same id).
    provisional: bool = False


class RecordingLink(msgspec.Struct):
    recording_id: uuid.UUID
    url: str  # a bearer URL: whoever holds it reads the object until `expires_at`; do not log it
    expires_at: datetime
    content_type: str
    bytes: int
    sha256: str


class RecordingPage(msgspec.Struct):
    items: list[RecordingOut]
    next_cursor: str | None


def _out(r: Recording) -> RecordingOut:
    return RecordingOut(
        id=r.id,
        session_id=r.session_id,
        conversation_id=r.conversation_id,
        kind=r.kind,
        format=r.format,
        uri=r.uri,
        bytes=r.bytes,
        sha256=r.sha256,
        content_type=r.content_type,
        created_at=r.created_at,
        content_url=f"/v1/recordings/{r.id}/content",
        provisional=r.provisional,
    )


async def _stored(repo: RecordingRepo, recording_id: uuid.UUID) -> Recording:
    rec = await repo.get(recording_id)
    if rec is None:
        raise NotFoundException(detail=f"recording {recording_id} not found")
    return rec


def _content_missing(recording_id: uuid.UUID) -> NotFoundException:
    """A recording whose row is there but whose object is not (deleted behind the service's back)."""
    return NotFoundException(detail=f"recording {recording_id}'s content is not in blob storage")


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """One `bytes=` range as [start, end) within `size`. None (the whole content, 200) for a range this API
    does not serve: another unit, which RFC 9110 says a server MUST ignore, several ranges or a malformed one,
    which it may. Raises 416 when the range lies beyond the content."""
    match = _RANGE.match(header.strip())
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        end = min(size, int(last) + 1) if last else size
    else:  # suffix: the last N bytes
        start, end = max(0, size - int(last)), size
    if start >= size or end <= start:
        raise ClientException(
            status_code=416, detail="range not satisfiable", headers={"Content-Range": f"bytes */{size}"}
        )
    return start, end


class RecordingsController(Controller):
    path = "/v1/recordings"
    tags = ["recordings"]
    # Every route of this controller requires this scope of the key (parley_runtime.web.access).
    opt = {"scope": "recordings.read"}
    security = [{"BearerToken": ["recordings.read"]}]

    @get("/", summary="Recordings of a conversation or a session, oldest first", responses=problems())
    async def list_recordings(
        self,
        repo: Repo,
        conversation_id: Annotated[str | None, Parameter(pattern=ID)] = None,
        session_id: Annotated[str | None, Parameter(pattern=ID)] = None,
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, CURSOR_PARAMETER] = None,
    ) -> RecordingPage:
        if conversation_id is None and session_id is None:
            raise ValidationException(detail="conversation_id or session_id is required")
        after = None
        if cursor:
            try:
                at, rid = decode_cursor(cursor, 2)
                after = (cursor_time(at), uuid.UUID(str(rid)))
            except ValueError as exc:  # InvalidCursor, or not a UUID
                raise ValidationException(detail="malformed cursor") from exc
        rows = await repo.page(conversation_id=conversation_id, session_id=session_id, limit=limit, after=after)
        items = rows[:limit]
        nxt = encode_cursor(items[-1].created_at, str(items[-1].id)) if len(rows) > limit else None
        return RecordingPage(items=[_out(r) for r in items], next_cursor=nxt)

    @get("/{recording_id:uuid}", summary="One recording's metadata", responses=problems(404))
    async def get_recording(self, repo: Repo, recording_id: FromPath[uuid.UUID]) -> RecordingOut:
        return _out(await _stored(repo, recording_id))

    @get(
        "/{recording_id:uuid}/content",
        summary="The recording's bytes; supports Range: bytes=start-end",
        responses=problems(404, 416),
    )
    async def content(self, request: Request, repo: Repo, blobs: Blobs, recording_id: FromPath[uuid.UUID]) -> Stream:  # type: ignore[type-arg]
        rec = await _stored(repo, recording_id)
        header = request.headers.get("range")
        span = parse_range(header, rec.bytes) if header else None
        start, end = span or (0, rec.bytes)
        headers = {"Accept-Ranges": "bytes", "Content-Length": str(end - start), "ETag": f'"{rec.sha256}"'}
        if span:
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{rec.bytes}"
        try:
            chunks = await blobs.open_range(rec.key, start, end)  # BlobUnavailable: 503, before any byte
        except BlobMissing:
            logger.warning("recording content missing", extra={"recording_id": str(recording_id)})
            raise _content_missing(recording_id) from None
        return Stream(
            chunks,
            status_code=206 if span else 200,
            media_type=rec.content_type,
            headers=headers,
        )

    @get(
        "/{recording_id:uuid}/link",
        summary="A signed URL that reads the recording straight from blob storage until it expires",
        description="S3, Azure Blob and GCS only (501 for local files). "
        "The URL reads that one object; it cannot be changed to read another or to live longer.",
        responses=problems(404, 501),
        cache_control=CacheControlHeader(no_store=True),
    )
    async def link(
        self,
        repo: Repo,
        blobs: Blobs,
        settings: Config,
        recording_id: FromPath[uuid.UUID],
        expires_in: Annotated[
            int | None,
            Parameter(ge=1, le=LINK_MAX_SECONDS, description="seconds; default 300 or the maximum if lower"),
        ] = None,
    ) -> RecordingLink:
        seconds = expires_in or min(LINK_SECONDS, settings.link_max_seconds)
        if seconds > settings.link_max_seconds:  # the setting is the authority, whatever the document said
            raise ValidationException(detail=f"expires_in is above this deployment's {settings.link_max_seconds} s")
        rec = await _stored(repo, recording_id)
        if await blobs.size(rec.key) is None:  # a link to nothing would fail later, far from its cause
            raise _content_missing(recording_id)
        life = timedelta(seconds=seconds)
        expires_at = datetime.now(UTC) + life
        try:
            url = await blobs.signed_get(rec.key, life)
        except SigningUnsupported as exc:
            raise HTTPException(status_code=501, detail=f"{exc}; read /v1/recordings/{rec.id}/content") from None
        return RecordingLink(
            recording_id=rec.id,
            url=url,
            expires_at=expires_at,
            content_type=rec.content_type,
            bytes=rec.bytes,
            sha256=rec.sha256,
        )


def recordings_routes(settings: Settings) -> Router:
    """The API's routes, their document stating this deployment's link limit (`LINK_MAX_SECONDS`)."""
    return Router(
        path="/",
        route_handlers=[RecordingsController],
        signature_namespace={"LINK_MAX_SECONDS": settings.link_max_seconds},
    )
