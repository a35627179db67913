"""Blob storage through obstore: one URL setting for local files, S3, Azure Blob and GCS.

Object keys are built from ids only (`transcripts/<conversation>/<session>/transcript.json`), never from
user input, so no path can escape the configured prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import obstore
from obstore.exceptions import (
    GenericError,
    InvalidPathError,
    NotFoundError,
    NotSupportedError,
    PermissionDeniedError,
    UnauthenticatedError,
)
from obstore.store import AzureStore, GCSStore, LocalStore, ObjectStore, S3Store, from_url

from parley_contracts import ID_RE
from parley_recordings.settings import S3_SCHEMES, Settings
from parley_runtime.messaging.handling import TransientError

_SAFE = ID_RE


class BlobUnavailable(TransientError):
    """The blob store did not answer or failed; retry later (a consumer naks, the API answers 503)."""

    @classmethod
    def from_store(cls, what: str, exc: BaseException) -> BlobUnavailable:
        """`what` failed, with the first line of the store's own reason: what an operator needs to tell a
        store that is down from credentials that may not sign, say. obstore's reasons name the request and
        the store's answer, never an object's content."""
        reason = str(exc).strip().partition("\n")[0][:300]
        return cls(f"blob store {what} failed: {type(exc).__name__}" + (f": {reason}" if reason else ""))


class BlobMissing(Exception):
    """The object is not in the blob store."""


class SigningUnsupported(Exception):
    """This blob store cannot sign a link: local files, or credentials that cannot sign."""


def object_key(kind: str, conversation_id: str, session_id: str, filename: str) -> str:
    return f"{conversation_folder(kind, conversation_id)}{_safe(session_id)}/{filename}"


def conversation_folder(kind: str, conversation_id: str) -> str:
    """`<kind>/<conversation>/`: every object of one kind of one conversation is under it."""
    return f"{kind}/{_safe(conversation_id)}/"


def _safe(part: str) -> str:
    if not _SAFE.match(part):  # the contract already guarantees this; a second lock on the door
        raise ValueError(f"unsafe id in object key: {part!r}")
    return part


class BlobStore:
    def __init__(
        self,
        store: ObjectStore,
        url: str,
        part_bytes: int = 5 * 1024 * 1024,
        concurrency: int = 2,
        read_timeout: float = 10.0,
        signer: ObjectStore | None = None,
    ) -> None:
        self.store = store
        self.signer = signer or store  # the same bucket under the endpoint readers use (signing is offline)
        self.url = url
        self.read_timeout = read_timeout
        self.part_bytes = part_bytes
        self.concurrency = concurrency

    def uri(self, key: str) -> str:
        return f"{self.url.rstrip('/')}/{key}"

    async def put(self, key: str, data: bytes | AsyncIterator[bytes], content_type: str) -> None:
        # Local files have no metadata; the content type also lives in the recordings table.
        attributes = None if isinstance(self.store, LocalStore) else {"Content-Type": content_type}
        try:
            await obstore.put_async(
                self.store,
                key,
                data,
                attributes=attributes,
                chunk_size=self.part_bytes,
                max_concurrency=self.concurrency,
            )
        except (PermissionDeniedError, UnauthenticatedError, InvalidPathError):
            raise
        except (GenericError, OSError) as exc:
            raise BlobUnavailable.from_store("write", exc) from exc

    async def size(self, key: str) -> int | None:
        try:
            meta = await obstore.head_async(self.store, key)
        except (NotFoundError, FileNotFoundError):
            return None
        except (GenericError, OSError) as exc:
            raise BlobUnavailable.from_store("read", exc) from exc
        return int(meta["size"])

    async def open_range(self, key: str, start: int, end: int) -> AsyncIterator[bytes]:
        """Bytes [start, end) of an object, as chunks. The object is opened here, before the first chunk, so
        a missing object or a store that does not answer is an error before any response has begun."""
        try:
            async with asyncio.timeout(self.read_timeout):
                response = await obstore.get_async(self.store, key, options={"range": (start, end)})
        except (NotFoundError, FileNotFoundError) as exc:
            raise BlobMissing(key) from exc
        except (GenericError, OSError, TimeoutError) as exc:
            raise BlobUnavailable.from_store("read", exc) from exc

        async def chunks() -> AsyncIterator[bytes]:
            async for chunk in response.stream(min_chunk_size=256 * 1024):
                yield bytes(chunk)

        return chunks()

    async def signed_get(self, key: str, expires_in: timedelta) -> str:
        """A URL that reads this one object, without credentials, until it expires (S3, Azure, GCS). The store
        checks the signature: the URL cannot be bent to another object or a longer life."""
        if not isinstance(self.signer, S3Store | AzureStore | GCSStore):
            raise SigningUnsupported(f"{urlparse(self.url).scheme}:// storage cannot be read through a signed link")
        try:
            return await obstore.sign_async(self.signer, "GET", key, expires_in)
        except NotSupportedError as exc:
            raise SigningUnsupported(f"this blob store's credentials cannot sign: {exc}") from exc
        except (GenericError, OSError) as exc:  # fetching the credentials or a delegation key failed
            raise BlobUnavailable.from_store("signing", exc) from exc

    async def delete(self, key: str) -> None:
        with contextlib.suppress(NotFoundError, FileNotFoundError):
            await obstore.delete_async(self.store, key)

    async def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix` (a folder: it ends in `/`); returns how many were deleted."""
        if not prefix.endswith("/"):
            raise ValueError(f"not a folder prefix: {prefix!r}")
        try:
            keys = [meta["path"] async for batch in obstore.list(self.store, prefix=prefix) for meta in batch]
        except (GenericError, OSError) as exc:
            raise BlobUnavailable.from_store("list", exc) from exc
        for key in keys:
            await self.delete(key)
        return len(keys)


def open_blob_store(settings: Settings) -> BlobStore:
    url = settings.blob_url
    parsed = urlparse(url)
    signer: ObjectStore | None = None
    if parsed.scheme == "file":
        root = Path(parsed.path)
        root.mkdir(parents=True, exist_ok=True)
        store: ObjectStore = LocalStore(root)
    else:
        kwargs: dict[str, Any] = {}
        if parsed.scheme in S3_SCHEMES:
            config: dict[str, Any] = {}
            if settings.blob_s3_endpoint:
                config["endpoint"] = settings.blob_s3_endpoint
                config["virtual_hosted_style_request"] = False
            if settings.blob_s3_region:
                config["region"] = settings.blob_s3_region
            if settings.blob_access_key_id:
                config["access_key_id"] = settings.blob_access_key_id
                config["secret_access_key"] = settings.blob_secret_access_key or ""
            kwargs["config"] = config
        if settings.blob_allow_http:
            kwargs["client_options"] = {"allow_http": True}
        store = from_url(url, **kwargs)
        if settings.blob_s3_public_endpoint:  # s3:// only (`Settings.check`)
            public: Any = {**kwargs["config"], "endpoint": settings.blob_s3_public_endpoint}
            public["virtual_hosted_style_request"] = False
            # Signing needs the credentials and the endpoint's name, never a connection to that endpoint.
            signer = from_url(url, config=public, client_options={"allow_http": True})
    return BlobStore(
        store,
        url,
        settings.upload_part_bytes,
        settings.upload_concurrency,
        settings.blob_read_timeout_seconds,
        signer=signer,
    )
