"""Parley's outbound webhooks: chosen events and one `call.report` per session, signed (Standard Webhooks),
retried over about a day, logged and replayable."""

__version__ = "0.1.0"
