"""Google Cloud Storage for the recordings tests, as far as it can be had here.

No GCS emulator takes the requests obstore's GCS client makes, so SeaweedFS answers them: the client speaks
GCS's XML API, which has the S3 API's shape (objects by PUT/GET/HEAD/DELETE, S3-style multipart uploads,
`list-type=2` listings), and SeaweedFS runs with open access, since it cannot check Google's tokens. The
service account file is what an operator points `GOOGLE_SERVICE_ACCOUNT` at, with object_store's
`gcs_base_url` naming the local store. Its RSA key is made per test: obstore signs each request's token
and each link with it, locally.

What a link carries, Google checks, and SeaweedFS does not: `signed_by` does, by GCS's V4 signing rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from hashlib import sha256
from pathlib import Path
from urllib.parse import parse_qsl, quote, urlsplit

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from parley_devstack.seaweedfs import SeaweedServer

# obstore signs a link for Google's host, whatever base URL the store was given.
SIGNED_HOST = "storage.googleapis.com"


@dataclass
class GcsStandIn:
    server: SeaweedServer
    key: rsa.RSAPrivateKey
    account_file: Path


def start(data_dir: Path, bucket: str) -> GcsStandIn:
    server = SeaweedServer(data_dir / "seaweedfs", bucket, open_access=True).start()
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    account = {
        "gcs_base_url": server.endpoint,
        "client_email": "parley-recordings@parley-test.iam.gserviceaccount.com",
        "private_key": pem.decode(),
        "private_key_id": "parley-test",
    }
    account_file = data_dir / "service-account.json"
    account_file.write_text(json.dumps(account))
    return GcsStandIn(server, key, account_file)


def signed_by(url: str, key: rsa.RSAPrivateKey) -> bool:
    """Whether `url` is a V4 signed GET URL (GOOG4-RSA-SHA256) that `key`'s service account signed."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    params = dict(query)
    if params.get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256" or params.get("X-Goog-SignedHeaders") != "host":
        return False
    signed = sorted((k, v) for k, v in query if k != "X-Goog-Signature")
    canonical_query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in signed)
    request = "\n".join(["GET", parts.path, canonical_query, f"host:{SIGNED_HOST}", "", "host", "UNSIGNED-PAYLOAD"])
    scope = params["X-Goog-Credential"].split("/", 1)[1]
    text = "\n".join(["GOOG4-RSA-SHA256", params["X-Goog-Date"], scope, sha256(request.encode()).hexdigest()])
    try:
        key.public_key().verify(
            bytes.fromhex(params["X-Goog-Signature"]), text.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def signed_expiry(url: str) -> datetime:
    """When a V4 signed URL stops working: its signing time plus its life."""
    params = dict(parse_qsl(urlsplit(url).query))
    signed_at = datetime.strptime(params["X-Goog-Date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return signed_at + timedelta(seconds=int(params["X-Goog-Expires"]))
