"""Parley history: every turn durable in Postgres, served to the agent (NATS) and over REST."""

__version__ = "0.1.0"
