"""Alembic environment of the `webhooks` schema (the shared body is parley_runtime.db)."""

from parley_runtime.db import run_migrations_online
from parley_webhooks.models import SCHEMA, metadata

run_migrations_online(metadata, SCHEMA)
