"""The recordings API's guards and errors."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from parley_recordings.app import create_app
from parley_recordings.settings import Settings

from .conftest import AUTH


@pytest.mark.parametrize("backend", ["file"], indirect=True)
async def test_auth_filters_and_problem_details(settings: Settings) -> None:
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/v1/recordings?session_id=s")).status_code == 401
        r = await client.get("/v1/recordings", headers=AUTH)
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/v1/recordings?session_id=bad.id", headers=AUTH)).status_code == 400
        missing = "/v1/recordings/6f1c1d2e-3b4a-4c5d-8e9f-0a1b2c3d4e5f"
        assert (await client.get(missing, headers=AUTH)).status_code == 404
        assert (await client.get(f"{missing}/content", headers=AUTH)).status_code == 404
        assert (await client.get("/v1/recordings/not-a-uuid", headers=AUTH)).status_code in (400, 404)
        assert (await client.get("/health")).status_code == 200
        assert (await client.get("/v1/recordings?session_id=nobody", headers=AUTH)).json()["items"] == []
