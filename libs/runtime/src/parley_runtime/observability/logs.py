"""JSON logs, one object per line, with the active trace and span ids.

Fields passed with `extra=` become top-level keys. Never pass transcript text, tokens or keys: the code
logs ids, counts and error types only (a test checks a turn's text never reaches the logs).
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:
            out["trace_id"] = format(span_context.trace_id, "032x")
            out["span_id"] = format(span_context.span_id, "016x")
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route the root logger to stderr as JSON (stdout stays free for command output). Idempotent.

    Also makes a crash in native code (LiveKit's FFI, the database and NATS drivers, obstore) print every
    thread's Python stack to stderr before the process dies, instead of leaving only an exit signal."""
    with contextlib.suppress(AttributeError, ValueError, OSError):  # a stderr with no file descriptor (captured)
        faulthandler.enable(sys.stderr)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # nats-py logs every reconnect attempt with a traceback at ERROR; our callbacks report them instead.
    logging.getLogger("nats").setLevel(logging.CRITICAL)
