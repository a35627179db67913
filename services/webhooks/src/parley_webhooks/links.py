"""A report's links to its recordings, from recordings' API: a signed URL where the store makes them (S3, Azure,
GCS), else the API's content address (read with a key of recordings')."""

from __future__ import annotations

from typing import Any

import httpx


class RecordingLinks:
    def __init__(self, client: httpx.AsyncClient, *, seconds: int) -> None:
        self.client = client
        self.seconds = seconds

    async def link(self, recording_id: str) -> dict[str, Any]:
        content = f"{self.client.base_url}v1/recordings/{recording_id}/content".replace("//v1", "/v1")
        try:
            r = await self.client.get(f"/v1/recordings/{recording_id}/link", params={"expires_in": self.seconds})
        except httpx.HTTPError:
            return {"content_url": content}  # recordings is down: the report goes, with the address to read later
        if r.status_code == 200:
            found = r.json()
            return {"url": found["url"], "url_expires_at": found["expires_at"], "content_url": content}
        return {"content_url": content}  # local files (501) have no signed link
