"""Which personal data a call redacts: the deployment's types (AGENT_REDACT), plus those its room asks for.

A room's metadata may add types (`"redact": {"add": ["US_PASSPORT"]}`) but removes one only when the deployment
lets rooms (AGENT_REDACT_ROOMS_MAY_REMOVE): whoever creates a room must not be able to switch redaction off alone.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable

from parley_contracts.privacy import ENTITY_TYPES

# Types Presidio's pattern recognizers find, each with its own checks.
PATTERN_TYPES = (
    "CREDIT_CARD", "IBAN_CODE", "PHONE_NUMBER", "EMAIL_ADDRESS", "IP_ADDRESS", "US_SSN", "US_ITIN",
    "US_BANK_NUMBER", "US_PASSPORT", "UK_NHS", "CRYPTO",
)  # fmt: skip
# Parley's own: a number of 9 or more digits said in pieces ("4 1 1 1, 1 1 1 1 ...") that no recognizer claims.
# A speech recognizer often writes a card or phone number with a digit lost or doubled, which fails its checksum;
# such a run is masked all the same (amounts, times and dates are shorter).
SPOKEN_NUMBER = "SPOKEN_NUMBER"
DEFAULT_TYPES = ("CREDIT_CARD", "IBAN_CODE", "PHONE_NUMBER", "EMAIL_ADDRESS", "IP_ADDRESS", "US_SSN", SPOKEN_NUMBER)
# Names and places need a named-entity model (spaCy's en_core_web_sm or larger), not installed by default.
NER_TYPES = ("PERSON", "LOCATION")
KNOWN_TYPES = frozenset(ENTITY_TYPES)
assert {*PATTERN_TYPES, *NER_TYPES, SPOKEN_NUMBER} == KNOWN_TYPES, "parley_contracts.privacy names them all"


def parse_types(value: str) -> frozenset[str]:
    """`CREDIT_CARD,PHONE_NUMBER`, `default`, `default,US_PASSPORT`, or `none`; an unknown type is a ValueError."""
    names = {n.strip().upper() for n in value.split(",") if n.strip()}
    if names == {"NONE"}:
        return frozenset()
    if "DEFAULT" in names:
        names = (names - {"DEFAULT"}) | set(DEFAULT_TYPES)
    if unknown := sorted(names - KNOWN_TYPES):
        raise ValueError(f"unknown entity types {unknown}; known: {sorted(KNOWN_TYPES)}, `default` or `none`")
    return frozenset(names)


def call_types(
    deployment: frozenset[str], add: Iterable[str], remove: Iterable[str], *, rooms_may_remove: bool
) -> frozenset[str]:
    """The types one call redacts: the deployment's, what its room adds (known types only), minus what it removes
    when the deployment allows that."""
    types = deployment | (frozenset(add) & KNOWN_TYPES)
    return types - frozenset(remove) if rooms_may_remove else types


def ner_model() -> str | None:
    """The installed spaCy English model that finds names and places, if any (none is by default)."""
    return next(
        (m for m in ("en_core_web_lg", "en_core_web_md", "en_core_web_sm") if importlib.util.find_spec(m)), None
    )
