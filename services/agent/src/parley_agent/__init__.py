"""Parley agent: the LiveKit Agents worker that runs each call."""

__version__ = "0.1.0"
