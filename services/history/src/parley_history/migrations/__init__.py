"""Alembic migrations of the `history` schema. Run with `python -m parley_history migrate`."""
