"""Recordings fixtures: the same tests run on local files, a real S3-compatible object store (SeaweedFS), a
real Azure Blob emulator (Azurite) and, for Google Cloud Storage, obstore's GCS client against SeaweedFS
answering its XML API requests (no GCS emulator takes them; see `gcs.py`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import nats
import pytest

import parley_contracts as c
from parley_devstack.azurite import ACCOUNT, ACCOUNT_KEY, AZURITE_VERSION, AzuriteServer
from parley_devstack.seaweedfs import ACCESS_KEY, SECRET_KEY, SeaweedServer
from parley_recordings.blobs import open_blob_store
from parley_recordings.consumers import NatsAudio
from parley_recordings.db import make_engine, migrate_async
from parley_recordings.handlers import Deps
from parley_recordings.repo import RecordingRepo
from parley_recordings.settings import Settings
from parley_runtime.messaging.provision import provision

from .gcs import GcsStandIn
from .gcs import start as start_gcs

API_KEY = "rec-test-key"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
BUCKET = "parley-test"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def s3_server(tmp_path: Path) -> SeaweedServer:
    """A real S3-compatible object store (SeaweedFS) holding BUCKET, not started yet; restarting it keeps its
    objects, so a test can take blob storage down and bring it back."""
    return SeaweedServer(tmp_path / "seaweedfs", BUCKET)


def blob_settings(backend: str, tmp_path: Path, s3: SeaweedServer | None) -> dict[str, object]:
    if backend == "file":
        return {"blob_url": (tmp_path / "blobs").as_uri()}
    if backend == "azure":  # credentials from the standard AZURE_* variables (the `azurite` fixture sets them)
        return {"blob_url": f"az://{BUCKET}/recordings", "blob_allow_http": True}
    if backend == "gcs":  # credentials from GOOGLE_SERVICE_ACCOUNT (the `gcs` fixture sets it)
        return {"blob_url": f"gs://{BUCKET}/recordings", "blob_allow_http": True}
    assert s3 is not None
    return {
        "blob_url": f"s3://{BUCKET}/recordings", "blob_s3_endpoint": s3.endpoint, "blob_s3_region": "us-east-1",
        "blob_access_key_id": ACCESS_KEY, "blob_secret_access_key": SECRET_KEY, "blob_allow_http": True,
    }  # fmt: skip


@pytest.fixture(params=["file", "s3", "azure", "gcs"])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def s3(backend: str, tmp_path: Path) -> Iterator[SeaweedServer | None]:
    if backend != "s3":
        yield None
        return
    server = s3_server(tmp_path).start()
    yield server
    server.kill()  # its data is not needed any more (a graceful stop takes ~2 s)


@pytest.fixture
def azurite(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[AzuriteServer | None]:
    if backend != "azure":
        yield None
        return
    cache = Path.home() / ".cache" / "parley" / f"azurite-{AZURITE_VERSION}"  # npm installs it once
    server = AzuriteServer(tmp_path / "azurite", cache).start()
    server.create_container(BUCKET)
    # What an operator sets for an account key; obstore reads them when it opens the az:// URL.
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_NAME", ACCOUNT)
    monkeypatch.setenv("AZURE_STORAGE_ACCOUNT_KEY", ACCOUNT_KEY)
    monkeypatch.setenv("AZURE_STORAGE_USE_EMULATOR", "true")
    monkeypatch.setenv("AZURITE_BLOB_STORAGE_URL", server.url)
    yield server
    server.stop()


@pytest.fixture
def gcs(backend: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[GcsStandIn | None]:
    """For gs:// URLs: SeaweedFS answering obstore's GCS client, and a service account file (see `gcs.py`)."""
    if backend != "gcs":
        yield None
        return
    stand_in = start_gcs(tmp_path / "gcs", BUCKET)
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT", str(stand_in.account_file))
    yield stand_in
    stand_in.server.kill()


@pytest.fixture
async def recordings_db(database_url: str) -> str:
    await migrate_async(database_url)
    return database_url


@pytest.fixture
def settings(
    recordings_db: str,
    nats_url: str,
    backend: str,
    tmp_path: Path,
    s3: SeaweedServer | None,
    azurite: AzuriteServer | None,
    gcs: GcsStandIn | None,
) -> Settings:
    return Settings(
        database_url=recordings_db,
        api_keys=API_KEY,
        nats_url=nats_url,
        migrate_on_start=False,
        **blob_settings(backend, tmp_path, s3),  # type: ignore[arg-type]
    )


def session_ended(audio: bytes | None, *, conversation: str = "conv-r", session: str | None = None) -> c.SessionEnded:
    sess = session or f"sess-{uuid4().hex[:8]}"
    recording = None
    if audio is not None:
        recording = c.RecordingRef(bucket="voice-audio", key=f"{conversation}/{sess}/audio.ogg", bytes=len(audio),
                                   sha256=hashlib.sha256(audio).hexdigest(), content_type="audio/ogg",
                                   duration_seconds=3.0)  # fmt: skip
    return c.SessionEnded(
        event_id=uuid4(), occurred_at=T0 + timedelta(minutes=3), conversation_id=conversation, session_id=sess,
        producer="test", reason="participant_disconnected", started_at=T0, ended_at=T0 + timedelta(minutes=3),
        duration_seconds=180, turn_count=2,
        participants=[c.ParticipantSummary(identity="ada", kind="standard", joined_at=T0)],
        messages=[c.MessageSummary(seq=1, role="user", text="Hello --> there", at=T0 + timedelta(seconds=2)),
                  c.MessageSummary(seq=2, role="assistant", text="Hi <Ada> & co", at=T0 + timedelta(seconds=5))],
        recording=recording,
    )  # fmt: skip


async def handler_deps(settings: Settings, nats_url: str, repo_cls: type[RecordingRepo] = RecordingRepo):  # type: ignore[no-untyped-def]
    """What the handlers run on, over real NATS (provisioned), Postgres and blob storage; publishing is recorded.

    Returns (client, JetStream, engine, deps, the events published).
    """
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await provision(js)
    published: list[c.Event] = []

    async def publish(e: c.Event) -> None:
        published.append(e)

    engine = make_engine(settings.database_url, pool_size=2)
    deps = Deps(blobs=open_blob_store(settings), repo=repo_cls(engine), audio=NatsAudio(js), publish=publish)
    return nc, js, engine, deps, published
