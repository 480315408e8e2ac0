"""Alembic revisions: 0001 (first released schema, frozen), 0002, ..."""
