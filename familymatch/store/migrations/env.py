"""Alembic environment, run programmatically by :func:`familymatch.store.migrations.upgrade`.

There is no ``alembic.ini``: the caller passes an open connection (already inside a transaction)
in ``config.attributes["connection"]`` and the migrations run on it.
"""

from __future__ import annotations

from alembic import context

from familymatch.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
