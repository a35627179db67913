"""Invalid payloads raise one clear error type, naming what is wrong."""

import json
from pathlib import Path
from uuid import uuid4

import pytest

import parley_contracts as c

TURN = json.loads((Path(__file__).parent / "golden" / "turn_completed.v1.json").read_text())


def _with(**changes: object) -> bytes:
    data = {**TURN, **changes}
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


@pytest.mark.parametrize(
    ("payload", "mentions"),
    [
        (_with(seq="two"), "seq"),
        (_with(seq=0), "seq"),
        (_with(seq=2**31), "seq"),  # no consumer could store it: invalid, not retried by each until max_deliver
        (_with(role="robot"), "role"),
        (_with(text=...), "text"),
        (_with(event_id="not-a-uuid"), "event_id"),
        (_with(occurred_at="2026-11-25T10:00:00"), "timezone"),
        (_with(type="turn_completed.v9"), "type"),
        (_with(conversation_id="a.b"), "conversation_id"),
        (_with(conversation_id="has space"), "conversation_id"),
        (b"{not json", "malformed"),
        (b"[]", "object"),
    ],
    ids=[
        "wrong-type",
        "seq-zero",
        "seq-beyond-int32",
        "bad-role",
        "missing-field",
        "bad-uuid",
        "naive-datetime",
        "unknown-tag",
        "dot-in-id",
        "space-in-id",
        "not-json",
        "not-an-object",
    ],
)
def test_invalid_payload_raises_contract_error(payload: bytes, mentions: str) -> None:
    with pytest.raises(c.ContractError) as err:
        c.decode(payload)
    assert mentions in str(err.value)
    assert err.value.reason


def test_decode_as_rejects_another_event_type() -> None:
    with pytest.raises(c.ContractError):
        c.decode_as(json.dumps(TURN).encode(), c.SessionEnded)


def test_subject_carries_event_tag_and_conversation() -> None:
    event = c.decode(json.dumps(TURN).encode())
    assert c.subject_for(event) == f"voice.turn_completed.v1.{TURN['conversation_id']}"
    assert c.conversation_of(c.subject_for(event)) == TURN["conversation_id"]
    assert c.subject_filter(c.TurnCompleted) == "voice.turn_completed.v1.*"


def test_conversation_of_rejects_foreign_subjects() -> None:
    with pytest.raises(c.ContractError):
        c.conversation_of("dlq.voice.turn_completed.v1.x")


def test_encoded_event_omits_unset_optionals_and_uses_rfc3339_utc() -> None:
    event = c.TurnCompleted(
        event_id=uuid4(),
        occurred_at=c.utcnow(),
        conversation_id="c1",
        session_id="s1",
        producer="agent",
        seq=1,
        role="user",
        text="x",
    )
    wire = json.loads(c.encode(event))
    assert "metrics" not in wire
    assert wire["occurred_at"].endswith("Z")
    assert wire["type"] == "turn_completed.v1"


@pytest.mark.parametrize(
    ("field", "value"),
    [("turn_count", 2**31), ("messages", [{"seq": 2**31, "role": "user", "text": "hi", "at": "2026-11-25T10:00:00Z"}])],
)
def test_a_session_end_with_a_count_no_column_holds_is_invalid(field: str, value: object) -> None:
    ended = json.loads((Path(__file__).parent / "golden" / "session_ended.v1.json").read_text())
    with pytest.raises(c.ContractError) as err:
        c.decode(json.dumps({**ended, field: value}).encode())
    assert "<= 2147483647" in str(err.value)


def test_a_refused_value_is_not_quoted_in_the_reason_but_an_unknown_type_is() -> None:
    # Reasons reach logs and dead letters; a broken producer may have put a transcript in any field.
    for role in ("my secret words", "it's secret"):
        with pytest.raises(c.ContractError) as err:
            c.decode(_with(role=role))
        assert "secret" not in err.value.reason and "$.role" in err.value.reason
    with pytest.raises(c.ContractError) as err:
        c.decode(_with(type="turn_completed.v9"))
    assert "turn_completed.v9" in err.value.reason
