"""Alembic migrations of the `rooms` schema. Run with `python -m parley_rooms migrate`."""
