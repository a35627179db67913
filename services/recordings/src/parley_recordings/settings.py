"""Recordings service settings, from `RECORDINGS_*` environment variables (see .env.example)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated

import msgspec

from parley_runtime.settings import (
    NonNegative,
    Port,
    Positive,
    Seconds,
    ServiceSettings,
    SettingsError,
    load_settings,
)

# S3 refuses multipart parts below 5 MiB (all but the last), so a smaller size would fail every upload there.
PartBytes = Annotated[int, msgspec.Meta(ge=5 * 1024 * 1024, description="at least 5 MiB (5242880)")]
# S3 refuses a signed link that lives longer than 7 days, whatever it was signed for.
LINK_LIMIT_SECONDS = 7 * 24 * 3600
S3_SCHEMES = ("s3", "s3a")  # what `blob_url` names S3 (or an S3-compatible server) with
LinkSeconds = Annotated[int, msgspec.Meta(ge=1, le=LINK_LIMIT_SECONDS, description="1 to 604800 (7 days)")]


class Settings(ServiceSettings, frozen=True, kw_only=True):
    # Where transcripts and audio go: file:///path (default in make dev), s3://bucket/prefix,
    # az://container/prefix, gs://bucket/prefix. Credentials for the cloud ones below or from the
    # provider's standard environment variables.
    blob_url: str
    blob_s3_endpoint: str | None = None  # S3-compatible servers (SeaweedFS, MinIO, Ceph)
    # The endpoint signed links name, when readers reach the store elsewhere than this service does (an ingress
    # in front of an in-cluster MinIO): links are signed for it, offline. Default: `blob_s3_endpoint`.
    blob_s3_public_endpoint: str | None = None
    blob_s3_region: str | None = None
    blob_access_key_id: str | None = None
    blob_secret_access_key: str | None = None
    blob_allow_http: bool = False
    retention_days: NonNegative = 0  # 0 keeps recordings forever
    port: Port = 8103
    run_consumer: bool = True
    db_pool_size: Positive = 5
    upload_part_bytes: PartBytes = 5 * 1024 * 1024
    upload_concurrency: Positive = 2  # memory for one upload is about parts x concurrency
    # How long a download waits for blob storage to start answering before it is a 503. The client library's
    # own retries would go on for up to 3 minutes against a store that accepts connections but never answers.
    blob_read_timeout_seconds: Seconds = 10.0
    # The longest a signed link (`GET /v1/recordings/{id}/link`) may live: anyone holding it reads that object.
    link_max_seconds: LinkSeconds = 3600

    def check(self, prefix: str) -> None:
        super().check(prefix)
        scheme = self.blob_url.partition("://")[0]
        if self.blob_s3_public_endpoint and scheme not in S3_SCHEMES:
            raise SettingsError(f"{prefix}BLOB_S3_PUBLIC_ENDPOINT is for s3:// blob storage, not {scheme}://")


def load(environ: Mapping[str, str] | None = None) -> Settings:
    return load_settings(Settings, "RECORDINGS_", environ)
