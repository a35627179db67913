"""Generate the event documentation from the structs: a JSON Schema per event and one AsyncAPI 3 document.

`make docs` writes them under docs/events; a test regenerates them in memory and fails when the checked-in
files are stale, so the documents other teams read can never drift from the code.
Run: `python -m parley_contracts.docs [output-dir]`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgspec

from parley_contracts._base import Event
from parley_contracts.catalogue import EVENT_TYPES, PRODUCERS
from parley_contracts.codec import SUBJECT_PREFIX

ASYNCAPI_VERSION = "3.0.0"
CONTRACT_VERSION = "1.0.0"

_HEADERS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "Nats-Msg-Id": {"type": "string", "description": "Equals event_id; JetStream de-duplicates on it."},
        "traceparent": {"type": "string", "description": "W3C trace context of the producing span."},
        "content-type": {"type": "string", "const": "application/json"},
    },
    "required": ["Nats-Msg-Id", "content-type"],
}


def _channel_id(event_type: type[Event]) -> str:
    return event_type.tag()


def _camel(name: str) -> str:
    head, *rest = name.replace("-", "_").split("_")
    return head + "".join(part.title() for part in rest)


def _doc(event_type: type[Event]) -> str:
    return " ".join((event_type.__doc__ or "").split())


def json_schemas() -> dict[str, str]:
    """File name -> JSON Schema text, one per event type."""
    out: dict[str, str] = {}
    for t in EVENT_TYPES:
        schema = msgspec.json.schema(t)
        schema = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": f"https://parley.dev/schemas/events/{t.tag()}.json",
            "title": t.tag(),
            **schema,
        }
        out[f"{t.tag()}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def asyncapi_document() -> dict[str, Any]:
    """The AsyncAPI 3 document describing every channel, message and payload schema."""
    _, components = msgspec.json.schema_components(EVENT_TYPES, ref_template="#/components/schemas/{name}")
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for t in EVENT_TYPES:
        name = t.__name__
        channel = _channel_id(t)
        messages[name] = {
            "name": name,
            "title": t.tag(),
            "summary": (t.__doc__ or "").strip().splitlines()[0],
            "contentType": "application/json",
            "headers": _HEADERS_SCHEMA,
            "payload": {"$ref": f"#/components/schemas/{name}"},
        }
        channels[channel] = {
            "address": f"{SUBJECT_PREFIX}.{t.tag()}.{{conversation_id}}",
            "description": f"Stream VOICE. Subscribe with the filter `{SUBJECT_PREFIX}.{t.tag()}.*`.",
            "parameters": {"conversation_id": {"description": "The conversation the event belongs to."}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        for producer in PRODUCERS[t]:
            operations[f"{_camel(producer)}Sends{name}"] = {
                "action": "send",
                "title": f"{producer} publishes {t.tag()}",
                "summary": f"Published by the {producer} service.",
                "description": _doc(t),
                "channel": {"$ref": f"#/channels/{channel}"},
                "messages": [{"$ref": f"#/channels/{channel}/messages/{name}"}],
                "x-parley-producer": producer,
            }
        messages[name]["x-parley-producers"] = list(PRODUCERS[t])
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Parley conversation events",
            "version": CONTRACT_VERSION,
            "description": (
                "Events Parley publishes on NATS JetStream (stream VOICE, subjects voice.>). JSON payloads; "
                "delivery is at least once, so de-duplicate on event_id. Fields are only ever added with "
                "defaults: ignore the ones you do not know. A breaking change is a new .v2 channel."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "local": {
                "host": "127.0.0.1:4222",
                "protocol": "nats",
                "description": "The embedded local stack started by `make dev`.",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": components},
    }


def asyncapi_yaml() -> str:
    import yaml  # a docs-time dependency only

    return yaml.safe_dump(asyncapi_document(), sort_keys=False, width=110, allow_unicode=True)


def render_all() -> dict[str, str]:
    """Relative path (under docs/events) -> file content."""
    files = {f"schemas/{name}": text for name, text in json_schemas().items()}
    files["asyncapi.yaml"] = asyncapi_yaml()
    return files


def write_all(out_dir: Path) -> list[Path]:
    written = []
    for rel, text in render_all().items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/events")
    for p in write_all(target):
        print(p)
