"""Standard Webhooks (https://www.standardwebhooks.com): the secret's form, the three headers, the signature.

The signature is `v1,` and the base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` under the secret's
bytes (the base64 after `whsec_`). During a rotation both secrets sign, space-separated, so a receiver holding
either verifies the message.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

PREFIX = "whsec_"
# Message ids: the same for one event (or report) and endpoint, whichever replica or attempt sends it.
MESSAGE_IDS = uuid.UUID("2c5b8f64-7a0e-4d51-9f43-5e1f0f6d8a27")


def new_secret() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(24)).decode()


def message_id(endpoint_id: str, key: str) -> str:
    """The `webhook-id` of what `key` names (an event id, `report/<session>`) sent to one endpoint."""
    return "msg_" + uuid.uuid5(MESSAGE_IDS, f"{endpoint_id}/{key}").hex


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix(PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secrets_: list[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signature(s, msg_id, timestamp, body) for s in secrets_),
        "content-type": "application/json",
        "user-agent": "Parley-Webhooks/1",
    }
