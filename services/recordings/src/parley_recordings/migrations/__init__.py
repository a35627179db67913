"""Alembic migrations of the `recordings` schema. Run with `python -m parley_recordings migrate`."""
