"""Stable family references and the programme after the cohort.

Drops the foreign key from every per-run table's run_id (PostgreSQL checked it row by row:
a 600,000-record build took 29.8 s to COPY with it, 10.8 s without). Adds: runs.framework / framework_sha256 / command_line; households.family_ref (stable across
runs) and household_keys (members' person keys, what the next run matches against);
attachments, outcome_evidence, claims, claim_lines. Existing rows are kept; existing households
get a null family_ref (they are matched by the next build and given new references).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEW_TABLES = ("household_keys", "attachments", "outcome_evidence", "claims", "claim_lines")


def _run_id() -> sa.Column[int]:
    return sa.Column("run_id", sa.Integer(), nullable=False)


def _drop_run_foreign_keys() -> None:
    """Remove every foreign key to runs.id, keeping the rows (SQLite: the table is rebuilt)."""
    bind = op.get_bind()
    insp = sa.inspect(bind)
    for name in sorted(insp.get_table_names()):
        fks = [fk for fk in insp.get_foreign_keys(name) if fk["referred_table"] == "runs"]
        if not fks:
            continue
        if bind.dialect.name != "sqlite":
            for fk in fks:
                op.drop_constraint(str(fk["name"]), name, type_="foreignkey")
            continue
        # SQLite cannot drop a constraint: rebuild the table from its columns and indexes
        old = sa.Table(name, sa.MetaData(), autoload_with=bind)
        new = sa.Table(
            name,
            sa.MetaData(),
            *[
                sa.Column(c.name, c.type, nullable=c.nullable, primary_key=c.primary_key)
                for c in old.columns
            ],
        )
        for index in insp.get_indexes(name):
            sa.Index(index["name"], *[new.c[c] for c in index["column_names"] if c])
        with op.batch_alter_table(name, copy_from=new, recreate="always"):
            pass


def upgrade() -> None:
    _drop_run_foreign_keys()
    op.add_column("runs", sa.Column("framework", sa.String(200)))
    op.add_column("runs", sa.Column("framework_sha256", sa.String(64)))
    op.add_column("runs", sa.Column("command_line", sa.Text()))
    op.add_column("households", sa.Column("family_ref", sa.String(20)))
    op.create_index("ix_households_family_ref", "households", ["family_ref"])
    op.create_table(
        "household_keys",
        _run_id(),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("person_key", sa.Text(), nullable=False),
    )
    op.create_index("ix_household_keys_run", "household_keys", ["run_id", "household_id"])
    op.create_table(
        "attachments",
        _run_id(),
        sa.Column("family_ref", sa.String(20), nullable=False),
        sa.Column("household_id", sa.String(20)),
        sa.Column("key_worker", sa.Text()),
        sa.Column("attached_on", sa.Date()),
        sa.Column("recorded_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_attachments_run_ref", "attachments", ["run_id", "family_ref"])
    op.create_table(
        "outcome_evidence",
        _run_id(),
        sa.Column("family_ref", sa.String(20)),
        sa.Column("household_id", sa.String(20)),
        sa.Column("outcome", sa.String(100)),
        sa.Column("indicator", sa.String(100)),
        sa.Column("record_id", sa.Text()),
        sa.Column("source", sa.String(100)),
        sa.Column("row", sa.Integer()),
        sa.Column("person_id", sa.String(20)),
        sa.Column("date", sa.Date()),
        sa.Column("value", sa.Text()),
    )
    op.create_index("ix_outcome_evidence_run_ref", "outcome_evidence", ["run_id", "family_ref"])
    op.create_table(
        "claims",
        _run_id(),
        sa.Column("claim_id", sa.String(40), nullable=False),
        sa.Column("family_ref", sa.String(20)),
        sa.Column("household_id", sa.String(20)),
        sa.Column("claim_type", sa.String(50)),
        sa.Column("period", sa.String(50)),
        sa.Column("amount", sa.Float()),
        sa.Column("status", sa.String(20)),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_claims_run_claim", "claims", ["run_id", "claim_id"])
    op.create_table(
        "claim_lines",
        _run_id(),
        sa.Column("claim_id", sa.String(40), nullable=False),
        sa.Column("line", sa.Integer()),
        sa.Column("item", sa.String(100)),
        sa.Column("criterion", sa.String(100)),
        sa.Column("indicator", sa.String(100)),
        sa.Column("record_id", sa.Text()),
        sa.Column("source", sa.String(100)),
        sa.Column("row", sa.Integer()),
        sa.Column("person_id", sa.String(20)),
        sa.Column("date", sa.Date()),
        sa.Column("value", sa.Text()),
        sa.Column("amount", sa.Float()),
    )
    op.create_index("ix_claim_lines_run_claim", "claim_lines", ["run_id", "claim_id"])
    op.execute("UPDATE schema_info SET version = 2")


def downgrade() -> None:
    for name in reversed(NEW_TABLES):
        op.drop_table(name)
    op.drop_index("ix_households_family_ref", table_name="households")
    with op.batch_alter_table("households") as batch:
        batch.drop_column("family_ref")
    with op.batch_alter_table("runs") as batch:
        batch.drop_column("command_line")
        batch.drop_column("framework_sha256")
        batch.drop_column("framework")
    op.execute("UPDATE schema_info SET version = 1")
