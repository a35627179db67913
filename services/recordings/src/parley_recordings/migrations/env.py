"""Alembic environment of the `recordings` schema (the shared body is parley_runtime.db)."""

from parley_recordings.models import SCHEMA, metadata
from parley_runtime.db import run_migrations_online

run_migrations_online(metadata, SCHEMA)
