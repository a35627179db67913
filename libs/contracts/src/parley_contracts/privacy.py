"""The kinds of personal data the agent can mask (`redaction.policy`), named as Presidio names them, plus Parley's
`SPOKEN_NUMBER`: shared by the agent, which masks them, and rooms, whose API lets a room ask for more."""

from __future__ import annotations

from typing import Literal, get_args

# What a room may name in `redact.add` / `redact.remove` (rooms' API) and AGENT_REDACT may list.
EntityType = Literal[
    "CREDIT_CARD", "IBAN_CODE", "PHONE_NUMBER", "EMAIL_ADDRESS", "IP_ADDRESS", "US_SSN", "US_ITIN",
    "US_BANK_NUMBER", "US_PASSPORT", "UK_NHS", "CRYPTO", "SPOKEN_NUMBER", "PERSON", "LOCATION",
]  # fmt: skip
ENTITY_TYPES: tuple[str, ...] = get_args(EntityType)
