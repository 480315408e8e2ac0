"""The database schema (SQLAlchemy 2 Core): one file for SQLite and PostgreSQL.

Every row a build writes carries its ``run_id``; readers only look at runs whose status is
``complete``, so a build that was killed part-way leaves nothing visible.

This module is the CURRENT schema (head). The database is created and upgraded only by the
Alembic revisions in ``familymatch/store/migrations/versions`` (``0001`` = the first released
schema, frozen; ``0002`` = family references, person keys, attachments, outcomes, claims, and
``run_id`` no longer a foreign key; ``0003`` = claims in whole pence with decisions and
evidence lines, submissions, attachment teams; ``0004`` = address entities; ``0005`` = the
build's person id beside each member key). A
change here needs a new revision; ``tests/test_store_migrations.py`` checks that the upgraded
database matches these tables.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from familymatch.canonical import CANONICAL_SCHEMA

metadata = MetaData()
SCHEMA_VERSION = 4  # = the number of the head Alembic revision


def _run_fk() -> Column[int]:
    """The run a row belongs to. Deliberately not a FOREIGN KEY: PostgreSQL checks a foreign
    key row by row, which tripled the time to COPY a 600,000-record build (29.8 s against
    10.8 s, docs/decisions/0003-store.md). Only ``RunWriter`` writes these rows, with the id of
    the run it created in the same database; ``delete_run`` removes a run from every table."""
    return Column("run_id", Integer, nullable=False)


runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("status", String(16), nullable=False),  # running | complete | failed
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("finished_at", DateTime(timezone=True)),
    Column("project_name", String(200)),
    Column("project_path", Text),
    Column("reference_date", Date),
    Column("rule_set", String(200)),
    Column("rule_set_sha256", String(64)),
    Column("software_version", String(32)),
    Column("os_user", String(100)),
    Column("parameters", Text),  # JSON
    Column("summary", Text),  # JSON
    # added in migration 0002
    Column("framework", String(200)),
    Column("framework_sha256", String(64)),
    Column("command_line", Text),  # sys.argv with any database password masked
)

schema_info = Table(
    "schema_info",
    metadata,
    Column("version", Integer, primary_key=True),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(50), primary_key=True),
    Column("run_id", Integer),
    Column("pid", Integer),
    Column("host", String(200)),
    Column("acquired_at", DateTime(timezone=True)),
)

source_files = Table(
    "source_files",
    metadata,
    _run_fk(),
    Column("source", String(100), nullable=False),
    Column("kind", String(50), nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("rows_read", Integer),
    Column("records", Integer),
    Column("rows_rejected", Integer),
    Index("ix_source_files_sha", "sha256"),
)

rejects = Table(
    "rejects",
    metadata,
    _run_fk(),
    Column("source", String(100)),
    Column("row", Integer),
    Column("column", String(200)),
    Column("reason", Text),
)

_SQL_TYPES = {"String": Text, "Date": Date, "Int64": Integer, "Float64": Float}
records = Table(
    "records",
    metadata,
    _run_fk(),
    *[
        Column(name, _SQL_TYPES[str(dtype).split("(")[0]]())
        for name, dtype in CANONICAL_SCHEMA.items()
    ],
    Index("ix_records_run_record", "run_id", "record_id"),
)

persons = Table(
    "persons",
    metadata,
    _run_fk(),
    Column("record_id", Text, nullable=False),
    Column("person_id", String(20), nullable=False),
    Column("linkable", Boolean),
)

households = Table(
    "households",
    metadata,
    _run_fk(),
    Column("household_id", String(20), nullable=False),
    Column("address", Text),
    Column("postcode", String(16)),
    Column("n_members", Integer),
    Column("n_adults", Integer),
    Column("n_children", Integer),
    Column("family_ref", String(20)),  # stable across runs ("F000123"); added in 0002
    Index("ix_households_run", "run_id", "household_id"),
    Index("ix_households_family_ref", "family_ref"),
)

# the stable person keys of each household's members (caller-supplied; added in 0002): what
# the next run matches its households against to keep family references; person_id (added in
# 0005, null in older runs) is the build's person the key belongs to, so that cohort diff
# compares members as people
household_keys = Table(
    "household_keys",
    metadata,
    _run_fk(),
    Column("household_id", String(20), nullable=False),
    Column("person_key", Text, nullable=False),
    Column("person_id", String(20)),
    Index("ix_household_keys_run", "run_id", "household_id"),
)

household_links = Table(
    "household_links",
    metadata,
    _run_fk(),
    Column("household_id", String(20), nullable=False),
    Column("person_id", String(20), nullable=False),
    Column("reason", Text),
    Index("ix_hh_links_run_hh", "run_id", "household_id"),
)

# the address stage's output (docs/contracts.md section 3a); added in 0004
record_addresses = Table(
    "record_addresses",
    metadata,
    _run_fk(),
    Column("record_id", Text, nullable=False),
    Column("address_id", String(20)),
    Column("resolved_by", String(20), nullable=False),
    Column("uprn", String(20)),
    Index("ix_record_addresses_run", "run_id", "address_id"),
)

addresses = Table(
    "addresses",
    metadata,
    _run_fk(),
    Column("address_id", String(20), nullable=False),
    Column("canonical", Text),
    Column("postcode", String(16)),
    Column("uprn", String(20)),
    Column("variants", Integer),
    Column("records", Integer),
    Index("ix_addresses_run", "run_id", "address_id"),
)

membership = Table(
    "membership",
    metadata,
    _run_fk(),
    Column("record_id", Text, nullable=False),
    Column("person_id", String(20), nullable=False),
    Column("household_id", String(20), nullable=False),
    Index("ix_membership_run_hh", "run_id", "household_id"),
)

indicator_results = Table(
    "indicator_results",
    metadata,
    _run_fk(),
    Column("household_id", String(20), nullable=False),
    Column("criterion", String(100)),
    Column("indicator", String(100)),
    Column("met", Boolean),
    Column("value", Float),
    Column("threshold", Float),
    Column("note", Text),
    Index("ix_results_run_hh", "run_id", "household_id"),
)

evidence = Table(
    "evidence",
    metadata,
    _run_fk(),
    Column("household_id", String(20), nullable=False),
    Column("criterion", String(100)),
    Column("indicator", String(100)),
    Column("record_id", Text),
    Column("source", String(100)),
    Column("row", Integer),
    Column("person_id", String(20)),
    Column("date", Date),
    Column("value", Text),
    Index("ix_evidence_run_hh", "run_id", "household_id"),
)

cohort = Table(
    "cohort",
    metadata,
    _run_fk(),
    Column("household_id", String(20), nullable=False),
    Column("n_criteria", Integer),
    Column("combination", String(300)),
    Column("local_filter", Boolean),
    Column("in_cohort", Boolean),
    Index("ix_cohort_run", "run_id", "household_id"),
)

link_pairs = Table(
    "link_pairs",
    metadata,
    _run_fk(),
    Column("record_id_l", Text),
    Column("record_id_r", Text),
    Column("stage", String(50)),
    Column("match_weight", Float),
    Column("match_probability", Float),
    Column("linked", Boolean),
    Index("ix_pairs_run_l", "run_id", "record_id_l"),
)

link_models = Table(
    "link_models",
    metadata,
    _run_fk(),
    Column("model_json", Text, nullable=False),
)

# --- added in migration 0002: the programme after the cohort (attachments, outcomes, claims)

attachments = Table(
    "attachments",
    metadata,
    _run_fk(),
    Column("family_ref", String(20), nullable=False),
    Column("household_id", String(20)),
    Column("key_worker", Text),
    Column("attached_on", Date),
    Column("recorded_at", DateTime(timezone=True)),
    Column("team", Text),  # 0003
    Column("build_run_id", Integer),  # 0003: the build the family was attached from
    Column("source_row", Integer),  # 0003: the allocation file's data row
    Index("ix_attachments_run_ref", "run_id", "family_ref"),
)

outcome_evidence = Table(
    "outcome_evidence",
    metadata,
    _run_fk(),
    Column("family_ref", String(20)),
    Column("household_id", String(20)),
    Column("outcome", String(100)),
    Column("indicator", String(100)),
    Column("record_id", Text),
    Column("source", String(100)),
    Column("row", Integer),
    Column("person_id", String(20)),
    Column("date", Date),
    Column("value", Text),
    Index("ix_outcome_evidence_run_ref", "run_id", "family_ref"),
)

# --- recreated in migration 0003: one row per attached family per claim run, claimed or not
claims = Table(
    "claims",
    metadata,
    _run_fk(),
    Column("claim_id", String(60), nullable=False),  # "<run>-<family_ref>"
    Column("family_ref", String(20), nullable=False),
    Column("household_id", String(20)),
    Column("result", String(50)),  # R1 / R2 / R3 / progress / employment; null if not claimed
    Column("programme_year", String(20)),
    Column("amount_pence", BigInteger),  # exact: whole pence
    Column("decision", String(20), nullable=False),  # claimed | not_claimed
    Column("reason", Text),
    Column("attached_on", Date),
    Column("key_worker", Text),
    Column("criteria_at_entry", Text),
    Column("sampled", Boolean),  # in internal audit's sample
    Index("ix_claims_run_claim", "run_id", "claim_id"),
    Index("ix_claims_family", "family_ref"),
)

# the evidence behind each decision: a component's before/after figures and the rows
claim_lines = Table(
    "claim_lines",
    metadata,
    _run_fk(),
    Column("claim_id", String(60), nullable=False),
    Column("line", Integer),
    Column("component", String(100)),
    Column("measure", Text),
    Column("person_id", String(20)),
    Column("record_id", Text),
    Column("source", String(100)),
    Column("row", Integer),
    Column("date", Date),
    Column("before", Text),
    Column("after", Text),
    Column("threshold", Text),
    Column("met", Boolean),
    Index("ix_claim_lines_run_claim", "run_id", "claim_id"),
)

# a verified claim workbook sent to the department (migration 0003)
submissions = Table(
    "submissions",
    metadata,
    _run_fk(),
    Column("claim_run_id", Integer, nullable=False),
    Column("workbook_sha256", String(64), nullable=False),
    Column("submitted_on", Date, nullable=False),
    Column("families", Integer),
    Column("amount_pence", BigInteger),
    Index("ix_submissions_claim_run", "claim_run_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("os_user", String(100)),
    Column("command", Text),
    Column("run_id", Integer),
    Column("files", Text),  # JSON: [{"path": ..., "sha256": ...}]
)

# the tables a build writes, in order
RUN_TABLES = (
    source_files,
    rejects,
    records,
    persons,
    households,
    household_links,
    membership,
    record_addresses,
    addresses,
    indicator_results,
    evidence,
    cohort,
    link_pairs,
    link_models,
    household_keys,
    attachments,
    outcome_evidence,
    claims,
    claim_lines,
    submissions,
)
