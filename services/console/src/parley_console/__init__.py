"""Parley's console: the web app to see every call, and the same-origin API it reads through."""

__version__ = "0.1.0"
