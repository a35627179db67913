"""Parley's insights: each session's analysis (summary, extracted data, evaluation) and cost, after it ended."""

__version__ = "0.1.0"
