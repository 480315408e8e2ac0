"""`cohort show`: one family of a build as a document (its reference first, members, the
criteria it meets and the rows that prove each) and as text that reads at 80 columns:
identifiers are never cut, evidence is one line per source row, notes wrap at spaces."""

from __future__ import annotations

from typing import Any

import polars as pl
from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from familymatch.store import Store, read_table
from familymatch.store import schema as s
from familymatch.store.families import FamilyId


def family_document(store: Store, family: FamilyId) -> dict[str, Any]:
    """What `cohort show --json` prints."""
    run_id, household = family.run_id, family.household_id
    members = read_table(store, s.membership, run_id, household_id=household)
    records = read_table(store, s.records, run_id).join(members, on="record_id")
    cohort = read_table(store, s.cohort, run_id, household_id=household)
    home = read_table(store, s.households, run_id, household_id=household)
    row = cohort.row(0, named=True) if cohort.height else {"combination": None, "in_cohort": False}
    people = (
        records.group_by("person_id")
        .agg(
            pl.col("forename").drop_nulls().mode().sort().first(),
            pl.col("surname").drop_nulls().mode().sort().first(),
            pl.col("dob").drop_nulls().mode().sort().first(),
            pl.col("source").unique().sort().alias("sources"),
        )
        .sort("dob", "person_id", nulls_last=True)
    )
    evidence = read_table(store, s.evidence, run_id, household_id=household)
    return {
        "family_ref": family.family_ref,
        "household_id": household,
        "run_id": run_id,
        "address": home["address"][0] if home.height else None,
        "postcode": home["postcode"][0] if home.height else None,
        "criteria_met": row["combination"],
        "in_cohort": bool(row["in_cohort"]),
        "members": people.to_dicts(),
        "indicators": read_table(store, s.indicator_results, run_id, household_id=household)
        .drop("run_id", "household_id", strict=False)
        .to_dicts(),
        "evidence": evidence.drop("run_id", "household_id", strict=False)
        .sort("criterion", "indicator", "source", "row")
        .to_dicts(),
    }


def _fixed(t: Table, *names: str) -> None:
    """Columns whose every value stays on one line, whole."""
    for name in names:
        t.add_column(name, no_wrap=True)


def family_view(doc: dict[str, Any]) -> list[RenderableType]:
    """The document as a person reads it."""
    name = FamilyId(doc["run_id"], doc["household_id"], doc["family_ref"]).name
    out: list[RenderableType] = [
        f"[bold]{name}[/], run {doc['run_id']}: criteria met: {doc['criteria_met'] or 'none'}; "
        f"in cohort: {'yes' if doc['in_cohort'] else 'no'}"
    ]
    if doc["address"]:
        postcode = f", {doc['postcode']}" if doc["postcode"] else ""
        out.append(escape(f"address: {doc['address']}{postcode}"))
    t = Table(title="members", title_justify="left")
    _fixed(t, "person", "forename", "surname", "born")
    longest = max((len(x) for p in doc["members"] for x in p["sources"]), default=7)
    t.add_column("sources", min_width=longest)  # wraps between sources, never inside one
    for p in doc["members"]:
        t.add_row(
            p["person_id"],
            escape(p["forename"] or ""),
            escape(p["surname"] or ""),
            str(p["dob"] or ""),
            ", ".join(p["sources"]),
        )
    out.append(t)
    t = Table(title="indicators", title_justify="left")
    _fixed(t, "criterion", "indicator", "met", "value")
    t.add_column("note")
    for r in doc["indicators"]:
        t.add_row(
            r["criterion"],
            r["indicator"],
            "yes" if r["met"] else "no",
            f"{r['value']:g}" if r["value"] is not None else "",
            escape(r["note"] or ""),
        )
    out.append(t)
    out += evidence_lines(doc["evidence"])
    return out


def evidence_lines(evidence: list[dict[str, Any]]) -> list[str]:
    """Under each criterion and indicator, one line per source row that proves it."""
    out = [f"[bold]evidence[/] ({len(evidence)} source rows)"]
    heading = None
    for r in evidence:
        if (r["criterion"], r["indicator"]) != heading:
            heading = (r["criterion"], r["indicator"])
            out.append(f"{r['criterion']} / {r['indicator']}:")
        parts = [f"{r['source']} row {r['row']}", f"person {r['person_id']}"]
        parts += [str(v) for v in (r["date"], r["value"]) if v not in (None, "")]
        out.append(escape("  " + ", ".join(parts)))
    return out
