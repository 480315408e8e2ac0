"""The build's person id beside each member key.

``household_keys.person_id``: the person (this build's id) each key belongs to, so that a later
``cohort diff`` compares members as people (two people of two builds are the same when they share
any key) rather than key by key. Existing rows keep a null person id: those builds are compared
key by key, as before, and the report says so.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("household_keys") as batch:
        batch.add_column(sa.Column("person_id", sa.String(20)))


def downgrade() -> None:
    with op.batch_alter_table("household_keys") as batch:
        batch.drop_column("person_id")
