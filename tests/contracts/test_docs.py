"""The checked-in JSON Schemas and AsyncAPI document match the structs (`make docs` regenerates them)."""

from pathlib import Path

import yaml

import parley_contracts as c
from parley_contracts import EVENT_TYPES
from parley_contracts.docs import asyncapi_document, render_all

DOCS = Path(__file__).parents[2] / "docs" / "events"


def test_checked_in_event_docs_are_up_to_date() -> None:
    stale = [rel for rel, text in render_all().items() if not (DOCS / rel).exists() or (DOCS / rel).read_text() != text]
    assert not stale, f"stale event docs, run `make docs`: {stale}"


def test_asyncapi_document_has_a_channel_per_event_with_its_subject() -> None:
    doc = yaml.safe_load((DOCS / "asyncapi.yaml").read_text())
    assert doc["asyncapi"].startswith("3.")
    for t in EVENT_TYPES:
        channel = doc["channels"][t.tag()]
        assert channel["address"] == f"voice.{t.tag()}.{{conversation_id}}"
        assert t.__name__ in doc["components"]["schemas"]
    assert asyncapi_document()["operations"]["agentSendsTurnCompleted"]["action"] == "send"


def test_asyncapi_names_the_producers_of_each_type() -> None:
    operations = asyncapi_document()["operations"].values()
    for event_type, producers in c.PRODUCERS.items():
        channel = {"$ref": f"#/channels/{event_type.tag()}"}
        named = {op["x-parley-producer"] for op in operations if op["channel"] == channel}
        assert named == set(producers), event_type.tag()
    assert c.PRODUCERS[c.SessionEnded] == ("agent", "history")  # the one deliberate second producer
