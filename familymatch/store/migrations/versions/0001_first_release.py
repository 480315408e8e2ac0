"""The first released schema (frozen: never edit; change the schema in a new revision).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TABLES = (
    "audit_log",
    "locks",
    "runs",
    "schema_info",
    "cohort",
    "evidence",
    "household_links",
    "households",
    "indicator_results",
    "link_models",
    "link_pairs",
    "membership",
    "persons",
    "records",
    "rejects",
    "source_files",
)


def _run_id() -> sa.Column[int]:
    return sa.Column(
        "run_id", sa.Integer(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
    )


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("os_user", sa.String(100)),
        sa.Column("command", sa.Text()),
        sa.Column("run_id", sa.Integer()),
        sa.Column("files", sa.Text()),
    )
    op.create_table(
        "locks",
        sa.Column("name", sa.String(50), primary_key=True),
        sa.Column("run_id", sa.Integer()),
        sa.Column("pid", sa.Integer()),
        sa.Column("host", sa.String(200)),
        sa.Column("acquired_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.Column("project_name", sa.String(200)),
        sa.Column("project_path", sa.Text()),
        sa.Column("reference_date", sa.Date()),
        sa.Column("rule_set", sa.String(200)),
        sa.Column("rule_set_sha256", sa.String(64)),
        sa.Column("software_version", sa.String(32)),
        sa.Column("os_user", sa.String(100)),
        sa.Column("parameters", sa.Text()),
        sa.Column("summary", sa.Text()),
    )
    op.create_table(
        "schema_info",
        sa.Column("version", sa.Integer(), primary_key=True),
    )
    op.create_table(
        "cohort",
        _run_id(),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("n_criteria", sa.Integer()),
        sa.Column("combination", sa.String(300)),
        sa.Column("local_filter", sa.Boolean()),
        sa.Column("in_cohort", sa.Boolean()),
    )
    op.create_index("ix_cohort_run", "cohort", ["run_id", "household_id"])
    op.create_table(
        "evidence",
        _run_id(),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("criterion", sa.String(100)),
        sa.Column("indicator", sa.String(100)),
        sa.Column("record_id", sa.Text()),
        sa.Column("source", sa.String(100)),
        sa.Column("row", sa.Integer()),
        sa.Column("person_id", sa.String(20)),
        sa.Column("date", sa.Date()),
        sa.Column("value", sa.Text()),
    )
    op.create_index("ix_evidence_run_hh", "evidence", ["run_id", "household_id"])
    op.create_table(
        "household_links",
        _run_id(),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("person_id", sa.String(20), nullable=False),
        sa.Column("reason", sa.Text()),
    )
    op.create_index("ix_hh_links_run_hh", "household_links", ["run_id", "household_id"])
    op.create_table(
        "households",
        _run_id(),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("address", sa.Text()),
        sa.Column("postcode", sa.String(16)),
        sa.Column("n_members", sa.Integer()),
        sa.Column("n_adults", sa.Integer()),
        sa.Column("n_children", sa.Integer()),
    )
    op.create_index("ix_households_run", "households", ["run_id", "household_id"])
    op.create_table(
        "indicator_results",
        _run_id(),
        sa.Column("household_id", sa.String(20), nullable=False),
        sa.Column("criterion", sa.String(100)),
        sa.Column("indicator", sa.String(100)),
        sa.Column("met", sa.Boolean()),
        sa.Column("value", sa.Float()),
        sa.Column("threshold", sa.Float()),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_results_run_hh", "indicator_results", ["run_id", "household_id"])
    op.create_table(
        "link_models",
        _run_id(),
        sa.Column("model_json", sa.Text(), nullable=False),
    )
    op.create_table(
        "link_pairs",
        _run_id(),
        sa.Column("record_id_l", sa.Text()),
        sa.Column("record_id_r", sa.Text()),
        sa.Column("stage", sa.String(50)),
        sa.Column("match_weight", sa.Float()),
        sa.Column("match_probability", sa.Float()),
        sa.Column("linked", sa.Boolean()),
    )
    op.create_index("ix_pairs_run_l", "link_pairs", ["run_id", "record_id_l"])
    op.create_table(
        "membership",
        _run_id(),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("person_id", sa.String(20), nullable=False),
        sa.Column("household_id", sa.String(20), nullable=False),
    )
    op.create_index("ix_membership_run_hh", "membership", ["run_id", "household_id"])
    op.create_table(
        "persons",
        _run_id(),
        sa.Column("record_id", sa.Text(), nullable=False),
        sa.Column("person_id", sa.String(20), nullable=False),
        sa.Column("linkable", sa.Boolean()),
    )
    op.create_table(
        "records",
        _run_id(),
        sa.Column("record_id", sa.Text()),
        sa.Column("source", sa.Text()),
        sa.Column("kind", sa.Text()),
        sa.Column("row", sa.Integer()),
        sa.Column("role", sa.Text()),
        sa.Column("forename", sa.Text()),
        sa.Column("middle_names", sa.Text()),
        sa.Column("surname", sa.Text()),
        sa.Column("dob", sa.Date()),
        sa.Column("sex", sa.Text()),
        sa.Column("address", sa.Text()),
        sa.Column("postcode", sa.Text()),
        sa.Column("uprn", sa.Text()),
        sa.Column("nino", sa.Text()),
        sa.Column("upn", sa.Text()),
        sa.Column("case_ref", sa.Text()),
        sa.Column("group_ref", sa.Text()),
        sa.Column("relationship", sa.Text()),
        sa.Column("event_type", sa.Text()),
        sa.Column("event_date", sa.Date()),
        sa.Column("end_date", sa.Date()),
        sa.Column("term", sa.Text()),
        sa.Column("sessions_possible", sa.Integer()),
        sa.Column("sessions_authorised", sa.Integer()),
        sa.Column("sessions_unauthorised", sa.Integer()),
        sa.Column("sessions", sa.Float()),
        sa.Column("outcome", sa.Text()),
        sa.Column("school", sa.Text()),
        sa.Column("detail", sa.Text()),
    )
    op.create_index("ix_records_run_record", "records", ["run_id", "record_id"])
    op.create_table(
        "rejects",
        _run_id(),
        sa.Column("source", sa.String(100)),
        sa.Column("row", sa.Integer()),
        sa.Column("column", sa.String(200)),
        sa.Column("reason", sa.Text()),
    )
    op.create_table(
        "source_files",
        _run_id(),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(50), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("rows_read", sa.Integer()),
        sa.Column("records", sa.Integer()),
        sa.Column("rows_rejected", sa.Integer()),
    )
    op.create_index("ix_source_files_sha", "source_files", ["sha256"])
    op.execute("INSERT INTO schema_info (version) VALUES (1)")


def downgrade() -> None:
    for name in reversed(TABLES):
        op.drop_table(name)
