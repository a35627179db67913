"""Encode and decode events, and map them to NATS subjects.

One decoder for the whole catalogue (a msgspec tagged union), built once. Every way a payload can be
wrong (not JSON, wrong type, missing field, bad UUID, naive datetime, unknown tag) raises `ContractError`.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

import msgspec

from parley_contracts._base import ID_RE, Event
from parley_contracts.catalogue import EVENT_TYPES, AnyEvent

SUBJECT_PREFIX = "voice"
_TOKEN = ID_RE

E = TypeVar("E", bound=Event)

_encoder = msgspec.json.Encoder()
_decoder: msgspec.json.Decoder[AnyEvent] = msgspec.json.Decoder(AnyEvent)
_typed_decoders: dict[type[Event], msgspec.json.Decoder[Any]] = {t: msgspec.json.Decoder(t) for t in EVENT_TYPES}


# msgspec quotes the value it refused for an enum (`Invalid enum value 'x' - at `$.role``): that value could be
# anything a broken producer put there, a transcript included, and reasons go to logs and dead letters.
_QUOTED_VALUE = re.compile(r"^(Invalid (?:enum )?value) (?:'.*'|\".*\")( - at `(?!\$\.type`).*`)$", re.DOTALL)


class ContractError(ValueError):
    """A payload does not satisfy the event contract. The message says which field and why, and never quotes a
    field's value (only an unknown event `type`)."""

    def __init__(self, reason: str) -> None:
        reason = _QUOTED_VALUE.sub(r"\1 (not shown)\2", reason)
        super().__init__(reason)
        self.reason = reason


def encode(event: Event) -> bytes:
    """Serialize an event to its JSON wire form."""
    return _encoder.encode(event)


def decode(data: bytes | str) -> AnyEvent:
    """Decode any catalogue event; raise `ContractError` on anything that is not a valid event."""
    try:
        return _decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContractError(str(exc)) from exc


def decode_as(data: bytes | str, event_type: type[E]) -> E:
    """Decode a payload that must be one specific event type."""
    try:
        return _typed_decoders[event_type].decode(data)  # type: ignore[no-any-return]
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContractError(str(exc)) from exc


def subject_for(event: Event) -> str:
    """`voice.<event>.v<N>.<conversation_id>`, e.g. `voice.turn_completed.v1.<conversation_id>`."""
    return f"{SUBJECT_PREFIX}.{event.tag()}.{event.conversation_id}"


def subject_filter(event_type: type[Event]) -> str:
    """The subject filter matching every event of one type, for any conversation."""
    return f"{SUBJECT_PREFIX}.{event_type.tag()}.*"


def conversation_of(subject: str) -> str:
    """The conversation id carried in a `voice.` subject; raises `ContractError` when it has none."""
    parts = subject.split(".")
    if len(parts) != 4 or parts[0] != SUBJECT_PREFIX or not _TOKEN.match(parts[3]):
        raise ContractError(f"not a Parley event subject: {subject!r}")
    return parts[3]
