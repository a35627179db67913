"""Signed links: a recording read straight from blob storage (real SeaweedFS and Azurite), without credentials,
that object only, until the link expires. For GCS the link's signature and expiry are checked by GCS's rules
(`gcs.signed_by`), since its stand-in cannot."""

from __future__ import annotations

import asyncio
import io
import json
import os
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from parley_devstack.seaweedfs import SeaweedServer
from parley_devstack.testing import tcp_forwarder
from parley_recordings.app import create_app
from parley_recordings.handlers import store_session
from parley_recordings.settings import Settings

from .conftest import AUTH, handler_deps, session_ended
from .gcs import GcsStandIn, signed_by, signed_expiry


def _fetch(url: str) -> tuple[int, bytes]:
    """GET with nothing but the URL, as a browser or a media player would."""
    try:
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def fetch(url: str) -> tuple[int, bytes]:
    return await asyncio.to_thread(_fetch, url)


async def test_a_signed_link_reads_that_recording_without_credentials_until_it_expires(
    settings: Settings, nats_url: str, backend: str, gcs: GcsStandIn | None
) -> None:
    nc, js, engine, deps, _ = await handler_deps(settings, nats_url)
    audio = b"OggS" + os.urandom(300_000)
    event = session_ended(audio)
    assert event.recording is not None
    await (await js.object_store("voice-audio")).put(event.recording.key, io.BytesIO(audio))
    stored = {r.format: r for r in await store_session(event, deps)}
    ogg = stored["ogg"]
    app = create_app(msgspec.structs.replace(settings, run_consumer=False, link_max_seconds=600))
    async with AsyncTestClient(app=app) as client:
        answer = await client.get(f"/v1/recordings/{ogg.id}/link?expires_in=3", headers=AUTH)
        if backend == "file":  # nothing to sign with: the answer says where the content is read instead
            assert answer.status_code == 501, answer.text
            assert answer.headers["content-type"].startswith("application/problem+json")
            assert f"/v1/recordings/{ogg.id}/content" in answer.json()["detail"]
            return
        assert answer.status_code == 200, answer.text
        assert answer.headers["cache-control"] == "no-store"
        link = answer.json()
        assert (link["bytes"], link["sha256"], link["content_type"]) == (len(audio), ogg.sha256, "audio/ogg")
        now = datetime.now(UTC)
        assert now < datetime.fromisoformat(link["expires_at"]) <= now + timedelta(seconds=3)
        assert await fetch(link["url"]) == (200, audio)
        # The same link bent to another object of the same store (the session's transcript) is refused.
        bent = link["url"].replace(ogg.key, stored["json"].key)
        assert bent != link["url"]
        # Without a life asked for: five minutes.
        default = (await client.get(f"/v1/recordings/{ogg.id}/link", headers=AUTH)).json()
        left = datetime.fromisoformat(default["expires_at"]) - datetime.now(UTC)
        assert timedelta(seconds=290) < left <= timedelta(seconds=300)
        if gcs is not None:  # its stand-in checks no signature or expiry: checked here, by GCS's rules
            assert signed_by(link["url"], gcs.key) and not signed_by(bent, gcs.key)
            for given in (link, default):  # signed within a second of when the answer reckoned its expiry
                drift = signed_expiry(given["url"]) - datetime.fromisoformat(given["expires_at"])
                assert timedelta(seconds=-1) < drift < timedelta(seconds=1), given
        else:
            assert (await fetch(bent))[0] == 403
            await asyncio.sleep((datetime.fromisoformat(link["expires_at"]) - datetime.now(UTC)).total_seconds() + 1.5)
            assert (await fetch(link["url"]))[0] == 403  # expired
            assert (await fetch(default["url"])) == (200, audio)
    await nc.close()
    await engine.dispose()


async def test_a_link_is_refused_beyond_the_deployments_limit_and_for_content_that_is_gone(
    settings: Settings, nats_url: str, backend: str
) -> None:
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    json_doc = next(r for r in await store_session(session_ended(None), deps) if r.format == "json")
    app = create_app(msgspec.structs.replace(settings, run_consumer=False, link_max_seconds=60))
    async with AsyncTestClient(app=app) as client:
        path = f"/v1/recordings/{json_doc.id}/link"
        assert (await client.get(path)).status_code == 401
        document = app.openapi_schema.to_schema()  # states this deployment's limit, not the 7 days of any
        link_parameters = document["paths"]["/v1/recordings/{recording_id}/link"]["get"]["parameters"]
        assert [p["schema"]["maximum"] for p in link_parameters if p["name"] == "expires_in"] == [60]
        for asked in ("61", "604801", "0", "soon"):
            refused = await client.get(f"{path}?expires_in={asked}", headers=AUTH)
            assert refused.status_code == 400, asked
            assert refused.headers["content-type"].startswith("application/problem+json")
        if backend != "file":
            # Without a life asked for: the deployment's limit, when that is below the default five minutes.
            given = (await client.get(path, headers=AUTH)).json()
            left = datetime.fromisoformat(given["expires_at"]) - datetime.now(UTC)
            assert timedelta(seconds=50) < left <= timedelta(seconds=60)
        missing = "/v1/recordings/6f1c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f/link"
        assert (await client.get(missing, headers=AUTH)).status_code == 404
        await deps.blobs.delete(json_doc.key)
        gone = await client.get(path, headers=AUTH)
        assert gone.status_code == 404 and "not in blob storage" in gone.json()["detail"]
    await nc.close()
    await engine.dispose()


@pytest.mark.parametrize("backend", ["s3"])
async def test_links_name_the_public_endpoint_readers_reach_the_store_by(
    settings: Settings, nats_url: str, s3: SeaweedServer
) -> None:
    """An in-cluster S3 store that readers reach through an ingress: here, another port forwarding to it. The
    link is signed for the ingress's address (the signature covers the host), so it reads through there."""
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    vtt = next(r for r in await store_session(session_ended(None), deps) if r.format == "vtt")
    internal = s3.endpoint.removeprefix("http://").rpartition(":")
    ingress = await tcp_forwarder(internal[0], int(internal[2]))
    public = f"http://127.0.0.1:{ingress.sockets[0].getsockname()[1]}"
    app = create_app(msgspec.structs.replace(settings, run_consumer=False, blob_s3_public_endpoint=public))
    try:
        async with AsyncTestClient(app=app) as client:
            link = (await client.get(f"/v1/recordings/{vtt.id}/link", headers=AUTH)).json()
            assert link["url"].startswith(f"{public}/"), link["url"]
            status, body = await fetch(link["url"])
            assert status == 200 and body.startswith(b"WEBVTT")
            # The private endpoint's name in a link signed for the public one does not verify.
            assert (await fetch(link["url"].replace(public, s3.endpoint)))[0] == 403
    finally:
        ingress.close()
        await nc.close()
        await engine.dispose()


@pytest.mark.parametrize("backend", ["gcs"])
async def test_a_link_that_cannot_be_signed_is_a_503_whose_log_says_why(
    settings: Settings,
    nats_url: str,
    gcs: GcsStandIn,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A GCS store with no key file (a pod's own identity) signs through IAM's signBlob, which cannot be
    reached here: the answer is a 503 to retry, and the operator's log names the signing and its cause."""
    nc, _, engine, deps, _ = await handler_deps(settings, nats_url)
    vtt = next(r for r in await store_session(session_ended(None), deps) if r.format == "vtt")
    keyless = json.loads(gcs.account_file.read_text()) | {"private_key": "", "disable_oauth": True}
    account = gcs.account_file.with_name("keyless.json")
    account.write_text(json.dumps(keyless))
    monkeypatch.setenv("GOOGLE_SERVICE_ACCOUNT", str(account))
    app = create_app(msgspec.structs.replace(settings, run_consumer=False))
    try:
        async with AsyncTestClient(app=app) as client:
            answer = await client.get(f"/v1/recordings/{vtt.id}/link", headers=AUTH)
            assert answer.status_code == 503 and answer.headers["retry-after"], answer.text
            assert (await client.get(f"/v1/recordings/{vtt.id}/content", headers=AUTH)).status_code == 200
    finally:
        await nc.close()
        await engine.dispose()
    (logged,) = [r for r in caplog.records if r.getMessage() == "dependency unavailable"]
    reason = getattr(logged, "reason", "")
    assert reason.startswith("blob store signing failed: GenericError:") and "signing blob" in reason, reason
