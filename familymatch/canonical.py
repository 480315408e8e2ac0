"""The canonical person-event record: one row = one person as one source saw them.

Every source extract, whatever its layout, is mapped onto these columns by ``ingest``; every
later stage (standardise, link, households, rules, claims) reads them by these names. Columns a
source does not provide are null. The schema is the contract between stages: change it here
and nowhere else.
"""

from __future__ import annotations

import polars as pl

# Source kinds the engine understands. A rule set's indicators name these kinds.
SOURCE_KINDS: dict[str, str] = {
    "benefits": "out-of-work benefit claims (JSA, IS, IB, ESA, ...): one row per claim",
    "school_census": "school census absence: one row per pupil per term",
    "exclusions": "fixed-term and permanent exclusions: one row per exclusion",
    "alternative_provision": "pupil referral unit / alternative provision placements",
    "home_education": "elective home education and children missing education / not on roll",
    "asb_interventions": "ASB interventions (ASBO, injunction, ABC, housing actions): one row each",
    "asb_incidents": "ASB incidents: one row per person per incident",
    "youth_offending": "proven offences (Youth Offending Service / police): one row per offence",
    "social_care": "children's social care: child in need, child protection plan, looked after",
    "domestic_abuse": "domestic abuse incidents and referrals",
    "health": "health and substance-misuse service contacts",
    "neet": "young people not in education, employment or training",
    "employment": "employment spells (for results: continuous employment)",
    "discretionary": "a local discretionary cohort (FIP, CAF, intensive support, ...)",
    "population": "any other list of people and addresses (e.g. council tax, housing)",
}

# Person fields: who the record is about.
PERSON_FIELDS: dict[str, pl.DataType] = {
    "forename": pl.String(),
    "middle_names": pl.String(),
    "surname": pl.String(),
    "dob": pl.Date(),
    "sex": pl.String(),  # "M", "F" or null after standardisation; raw code before
    "address": pl.String(),  # address lines joined with ", "
    "postcode": pl.String(),
    "uprn": pl.String(),
    "nino": pl.String(),
    "upn": pl.String(),
    "case_ref": pl.String(),  # the source's own person/case reference
    "group_ref": pl.String(),  # a reference shared by people of one row/claim/family
    "relationship": pl.String(),  # claimant, partner, dependant, child, parent, ...
}

# Fact fields: what the source says happened. Meaning depends on the kind (see docs/canonical.md).
FACT_FIELDS: dict[str, pl.DataType] = {
    "event_type": pl.String(),  # benefit type, exclusion type, ASB intervention type, CIN/CPP/LAC, ...
    "event_date": pl.Date(),  # claim start, exclusion date, intervention date, offence date, ...
    "end_date": pl.Date(),  # claim end, placement end, employment end
    "term": pl.String(),  # school term, canonical "2011/12-autumn"
    "sessions_possible": pl.Int64(),
    "sessions_authorised": pl.Int64(),
    "sessions_unauthorised": pl.Int64(),
    "sessions": pl.Float64(),  # exclusion length in sessions
    "outcome": pl.String(),  # offence outcome, referral outcome, ...
    "school": pl.String(),
    "detail": pl.String(),
}

# Bookkeeping fields set by ingest, never mapped from a column.
ROW_FIELDS: dict[str, pl.DataType] = {
    "record_id": pl.String(),  # "<source>:<row>" or "<source>:<row>:<role>" for multi-person rows
    "source": pl.String(),
    "kind": pl.String(),
    "row": pl.Int64(),  # 1-based data row in the file or sheet, header rows not counted
    "role": pl.String(),  # the person slot of a multi-person row ("claimant", "partner"), else null
}

# Offence outcome codes (what a mapping maps a council's labels to, with `map = {...}`). A rule
# set's indicator may count only some (`outcomes = [...]`); a null outcome counts as proven.
# disposals the law gives only to a child (under 18): reprimands and final warnings (Crime and
# Disorder Act 1998), youth cautions, referral orders and detention and training orders (youth
# court), youth rehabilitation orders (Criminal Justice and Immigration Act 2008)
YOUTH_ONLY_OUTCOMES = (
    "REPRIMAND",
    "FINAL_WARNING",
    "YOUTH_CAUTION",
    "YOUTH_CONDITIONAL_CAUTION",
    "REFERRAL_ORDER",
    "YRO",
    "DTO",
)
PROVEN_OUTCOMES = ("CONVICTION", "CAUTION", *YOUTH_ONLY_OUTCOMES)
NOT_PROVEN_OUTCOMES = ("NFA", "NOT_GUILTY", "DISCONTINUED", "WITHDRAWN")
OUTCOME_CODES = PROVEN_OUTCOMES + NOT_PROVEN_OUTCOMES

CANONICAL_SCHEMA = pl.Schema({**ROW_FIELDS, **PERSON_FIELDS, **FACT_FIELDS})
MAPPABLE_FIELDS: frozenset[str] = frozenset(PERSON_FIELDS) | frozenset(FACT_FIELDS)

# The rejects file written beside each ingest: one row per rejected (row, column, reason).
REJECT_SCHEMA = pl.Schema(
    {
        "source": pl.String(),
        "row": pl.Int64(),
        "column": pl.String(),
        "reason": pl.String(),
    }
)


def empty_canonical() -> pl.DataFrame:
    """An empty frame with the canonical schema."""
    return pl.DataFrame(schema=CANONICAL_SCHEMA)


def conform(frame: pl.DataFrame) -> pl.DataFrame:
    """Add missing canonical columns as nulls, cast to the canonical types, order them."""
    exprs = []
    for name, dtype in CANONICAL_SCHEMA.items():
        if name in frame.columns:
            exprs.append(pl.col(name).cast(dtype))
        else:
            exprs.append(pl.lit(None, dtype=dtype).alias(name))
    return frame.select(exprs)
