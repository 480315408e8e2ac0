"""Address entities: each record's resolved address and each build's address table.

``record_addresses``: record_id -> address_id (null when the record names no one address),
how it was resolved (uprn / gazetteer / exact / fuzzy / street-only / none) and its UPRN if
known. ``addresses``: address_id, canonical text, postcode, UPRN, variants and records.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def _run_id() -> sa.Column[int]:
    return sa.Column("run_id", sa.Integer(), nullable=False)


def upgrade() -> None:
    op.create_table(
        "record_addresses",
        _run_id(),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("address_id", sa.String(20)),
        sa.Column("resolved_by", sa.String(20), nullable=False),
        sa.Column("uprn", sa.String(20)),
    )
    op.create_index("ix_record_addresses_run", "record_addresses", ["run_id", "address_id"])
    op.create_table(
        "addresses",
        _run_id(),
        sa.Column("address_id", sa.String(20), nullable=False),
        sa.Column("canonical", sa.Text()),
        sa.Column("postcode", sa.String(16)),
        sa.Column("uprn", sa.String(20)),
        sa.Column("variants", sa.Integer()),
        sa.Column("records", sa.Integer()),
    )
    op.create_index("ix_addresses_run", "addresses", ["run_id", "address_id"])


def downgrade() -> None:
    op.drop_index("ix_addresses_run", table_name="addresses")
    op.drop_table("addresses")
    op.drop_index("ix_record_addresses_run", table_name="record_addresses")
    op.drop_table("record_addresses")
