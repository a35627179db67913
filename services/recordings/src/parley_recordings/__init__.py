"""Parley recordings: transcripts and audio of each session in blob storage."""

__version__ = "0.1.0"
