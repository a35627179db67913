"""Endpoint secrets at rest: AES-256-GCM under a key derived from `WEBHOOKS_SECRET_KEY`, so a copy of the
database (a backup, a replica) does not hand out the secrets that sign Parley's webhooks."""

from __future__ import annotations

import hashlib
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_NONCE = 12
_CONTEXT = b"parley-webhooks/endpoint-secret/v1"


class SecretBox:
    def __init__(self, key: str) -> None:
        self._aead = AESGCM(hashlib.sha256(_CONTEXT + key.encode()).digest())

    def seal(self, secret: str) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, secret.encode(), _CONTEXT)

    def open(self, sealed: bytes) -> str:
        """The secret; raises `cryptography.exceptions.InvalidTag` under another key."""
        return self._aead.decrypt(sealed[:_NONCE], sealed[_NONCE:], _CONTEXT).decode()
