"""Parley rooms: LiveKit rooms, join tokens, agent dispatch, webhooks and room status."""

__version__ = "0.1.0"
