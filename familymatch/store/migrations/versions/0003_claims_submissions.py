"""Claims that audit can verify: exact amounts, decisions with reasons, evidence lines with
before/after figures, and submissions.

attachments gains ``team``, ``build_run_id`` (the build whose cohort the family was attached
from) and ``source_row`` (the allocation file's row). ``claims`` and ``claim_lines`` are
recreated (no release ever wrote them): amounts are whole pence (``amount_pence``), never
floats. ``submissions`` records each claim run sent to the department.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _run_id() -> sa.Column[int]:
    return sa.Column("run_id", sa.Integer(), nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("attachments") as batch:
        batch.add_column(sa.Column("team", sa.Text()))
        batch.add_column(sa.Column("build_run_id", sa.Integer()))
        batch.add_column(sa.Column("source_row", sa.Integer()))
    op.drop_index("ix_claim_lines_run_claim", table_name="claim_lines")
    op.drop_table("claim_lines")
    op.drop_index("ix_claims_run_claim", table_name="claims")
    op.drop_table("claims")
    op.create_table(
        "claims",
        _run_id(),
        sa.Column("claim_id", sa.String(60), nullable=False),
        sa.Column("family_ref", sa.String(20), nullable=False),
        sa.Column("household_id", sa.String(20)),
        sa.Column("result", sa.String(50)),
        sa.Column("programme_year", sa.String(20)),
        sa.Column("amount_pence", sa.BigInteger()),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("attached_on", sa.Date()),
        sa.Column("key_worker", sa.Text()),
        sa.Column("criteria_at_entry", sa.Text()),
        sa.Column("sampled", sa.Boolean()),
    )
    op.create_index("ix_claims_run_claim", "claims", ["run_id", "claim_id"])
    op.create_index("ix_claims_family", "claims", ["family_ref"])
    op.create_table(
        "claim_lines",
        _run_id(),
        sa.Column("claim_id", sa.String(60), nullable=False),
        sa.Column("line", sa.Integer()),
        sa.Column("component", sa.String(100)),
        sa.Column("measure", sa.Text()),
        sa.Column("person_id", sa.String(20)),
        sa.Column("record_id", sa.Text()),
        sa.Column("source", sa.String(100)),
        sa.Column("row", sa.Integer()),
        sa.Column("date", sa.Date()),
        sa.Column("before", sa.Text()),
        sa.Column("after", sa.Text()),
        sa.Column("threshold", sa.Text()),
        sa.Column("met", sa.Boolean()),
    )
    op.create_index("ix_claim_lines_run_claim", "claim_lines", ["run_id", "claim_id"])
    op.create_table(
        "submissions",
        _run_id(),
        sa.Column("claim_run_id", sa.Integer(), nullable=False),
        sa.Column("workbook_sha256", sa.String(64), nullable=False),
        sa.Column("submitted_on", sa.Date(), nullable=False),
        sa.Column("families", sa.Integer()),
        sa.Column("amount_pence", sa.BigInteger()),
    )
    op.create_index("ix_submissions_claim_run", "submissions", ["claim_run_id"])
    op.execute("UPDATE schema_info SET version = 3")


def downgrade() -> None:
    op.drop_index("ix_submissions_claim_run", table_name="submissions")
    op.drop_table("submissions")
    op.drop_index("ix_claim_lines_run_claim", table_name="claim_lines")
    op.drop_table("claim_lines")
    op.drop_index("ix_claims_family", table_name="claims")
    op.drop_index("ix_claims_run_claim", table_name="claims")
    op.drop_table("claims")
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
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("source_row")
        batch.drop_column("build_run_id")
        batch.drop_column("team")
    op.execute("UPDATE schema_info SET version = 2")
