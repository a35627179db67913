"""Presidio's recognizers as the agent runs them (offline, no NLP model): the values a caller reads out, written
and spoken several ways, are masked with the right type; checksums keep look-alikes; a plain turn is unchanged."""

from __future__ import annotations

import json
from typing import Any

import pytest

from parley_agent.call import redacting_publisher
from parley_agent.metadata import parse_room_metadata
from parley_agent.redaction.detect import PresidioDetector
from parley_agent.redaction.policy import DEFAULT_TYPES
from parley_agent.redaction.redactor import Redactor
from parley_agent.settings import Settings

FOUR_ONES = " ".join(["four"] + ["one"] * 15)


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(PresidioDetector.shared(), frozenset(DEFAULT_TYPES))


@pytest.mark.parametrize(
    ("said", "masked"),
    [
        ("My card is 4111 1111 1111 1111.", "My card is [CREDIT_CARD]."),
        ("My card is 4111-1111-1111-1111.", "My card is [CREDIT_CARD]."),
        ("My card is 4111111111111111.", "My card is [CREDIT_CARD]."),
        (f"My card is {FOUR_ONES}.", "My card is [CREDIT_CARD]."),
        ("My card is 4 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1.", "My card is [CREDIT_CARD]."),
        ("Call me on +1 415 555 2671.", "Call me on [PHONE_NUMBER]."),
        ("Call me on 415-555-2671.", "Call me on [PHONE_NUMBER]."),
        ("Call me on four one five, five five five, two six seven one.", "Call me on [PHONE_NUMBER]."),
        ("Mail me at ada@example.com.", "Mail me at [EMAIL_ADDRESS]."),
        ("Mail me at ada at example dot com.", "Mail me at [EMAIL_ADDRESS]."),
        ("It's ada dot lovelace at example dot co dot uk.", "It's [EMAIL_ADDRESS]."),
        ("My IBAN is DE89 3704 0044 0532 0130 00.", "My IBAN is [IBAN_CODE]."),
        ("The server is 10.20.30.40.", "The server is [IP_ADDRESS]."),
    ],
)  # fmt: skip
def test_a_value_read_out_is_masked_with_its_type(redactor: Redactor, said: str, masked: str) -> None:
    assert redactor.redact(said).text == masked


@pytest.mark.parametrize(
    "said",
    [
        "Hello, I would like to book a table for two on Friday at seven thirty.",
        "My order was 42 pounds and 17 pence on the 3rd of May.",
        "Version 1.2 of the app.",
    ],
)
def test_a_turn_without_personal_data_is_unchanged(redactor: Redactor, said: str) -> None:
    done = redactor.redact(said)
    assert done.text == said and done.redactions == []


def test_a_card_number_that_fails_its_checksum_is_no_card_unless_it_was_said_in_pieces(redactor: Redactor) -> None:
    assert redactor.redact("A reference: 4111111111111112.").text == "A reference: 4111111111111112."
    # In groups, as a caller reads a card out and a recognizer writes it with a digit wrong: masked all the same.
    assert redactor.redact("A reference: 4111 1111 1111 1112.").text == "A reference: [CREDIT_CARD]."


def test_a_room_may_add_types_but_removes_them_only_where_the_deployment_allows() -> None:
    def types_of(room: dict[str, Any], **settings: Any) -> frozenset[str] | None:
        meta = parse_room_metadata(json.dumps({"conversation_id": "c1", **room}))
        publisher = redacting_publisher(Settings(**settings), meta, lambda event: None)
        return publisher.redactor.types if publisher else None

    everything = {"redact": {"remove": list(DEFAULT_TYPES)}}
    assert types_of(everything) == frozenset(DEFAULT_TYPES)  # a room cannot switch redaction off alone
    assert types_of(everything, redact_rooms_may_remove=True) is None  # unless the deployment lets rooms
    assert types_of({"redact": {"add": ["us_passport"]}}, redact="none") == frozenset({"US_PASSPORT"})
