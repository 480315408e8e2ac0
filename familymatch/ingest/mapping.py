"""Apply a source's mapping to its raw table: canonical records and rejected rows.

A row with any bad cell (an impossible date, a non-numeric session count, an over-long cell)
is rejected whole, with one reason per bad column; every other row is kept. A person slot
whose name and date-of-birth fields are all empty yields no record (a claim without a partner).
"""

from __future__ import annotations

from datetime import date

import polars as pl

from familymatch.canonical import CANONICAL_SCHEMA, REJECT_SCHEMA, conform
from familymatch.ingest import fields as fl
from familymatch.ingest.readers import ROW, RawTable
from familymatch.project import FieldSpec, SourceSpec

SLOT_IDENTITY = ("forename", "middle_names", "surname", "dob")


def _field_exprs(
    specs: dict[str, FieldSpec], prefix: str, today: date
) -> tuple[list[pl.Expr], list[fl.Check]]:
    exprs: list[pl.Expr] = []
    checks: list[fl.Check] = []
    for name, spec in specs.items():
        checks.extend(fl.long_cell_checks(spec, name))
        if name == "name":
            for part, expr in fl.split_name(spec).items():
                exprs.append(expr.alias(f"{prefix}{part}"))
            continue
        if name in fl.DATE_FIELDS:
            value, more = fl.date_value(spec, name, today)
        elif name in fl.INT_FIELDS or name in fl.FLOAT_FIELDS:
            value, more = fl.number_value(spec, name)
        else:
            value, more = fl.text(spec), []
        exprs.append(value.alias(f"{prefix}{name}"))
        checks.extend(more)
    return exprs, checks


def map_source(
    spec: SourceSpec, table: RawTable, today: date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical records and rejects (REJECT_SCHEMA) for one source."""
    today = today or date.today()
    frame = table.frame
    shared_exprs, checks = _field_exprs(spec.columns, "s__", today)
    slot_prefixes: list[tuple[str | None, str]] = []
    slot_exprs: list[pl.Expr] = []
    for i, slot in enumerate(spec.slots()):
        prefix = f"p{i}__"
        exprs, more = _field_exprs(slot.fields, prefix, today)
        slot_exprs.extend(exprs)
        checks.extend(more)
        slot_prefixes.append((slot.role, prefix))
    bad_cols = [c.bad.fill_null(False).alias(f"__bad{i}") for i, c in enumerate(checks)]
    wide = frame.select([pl.col(ROW), *shared_exprs, *slot_exprs, *bad_cols])

    # rejects: one line per (row, bad check)
    reject_parts = [
        wide.filter(pl.col(f"__bad{i}")).select(
            pl.lit(spec.name).alias("source"),
            pl.col(ROW).alias("row"),
            pl.lit(c.column).alias("column"),
            pl.lit(c.reason).alias("reason"),
        )
        for i, c in enumerate(checks)
    ]
    ragged = pl.DataFrame(
        {
            "source": [spec.name] * len(table.ragged),
            "row": [r for r, _ in table.ragged],
            "column": [None] * len(table.ragged),
            "reason": [why for _, why in table.ragged],
        },
        schema=REJECT_SCHEMA,
    )
    rejects = pl.concat(
        [ragged, *[p.cast(REJECT_SCHEMA) for p in reject_parts]], how="vertical"
    ).sort(["row", "column"], nulls_last=False)

    if checks:
        wide = wide.filter(~pl.any_horizontal([pl.col(f"__bad{i}") for i in range(len(checks))]))

    shared_names = [c.removeprefix("s__") for c in wide.columns if c.startswith("s__")]
    records = []
    for order, (role, prefix) in enumerate(slot_prefixes):
        own = [c for c in wide.columns if c.startswith(prefix)]
        own_names = {c.removeprefix(prefix) for c in own}
        select = [pl.col(ROW).alias("row")]
        select += [pl.col(f"s__{n}").alias(n) for n in shared_names if n not in own_names]
        select += [pl.col(c).alias(c.removeprefix(prefix)) for c in own]
        part = wide.select(select)
        if spec.people:
            identity = [n for n in SLOT_IDENTITY if n in part.columns]
            if identity:
                part = part.filter(pl.any_horizontal(pl.col(identity).is_not_null()))
            else:
                part = part.clear()
        part = part.with_columns(
            pl.lit(role, dtype=pl.String).alias("role"),
            pl.lit(order).alias("__slot"),
        )
        records.append(part)
    out = pl.concat(records, how="diagonal_relaxed").sort(["row", "__slot"])
    rid = pl.format("{}:{}", pl.lit(spec.name), pl.col("row"))
    if spec.people:
        rid = pl.format("{}:{}:{}", pl.lit(spec.name), pl.col("row"), pl.col("role"))
    out = out.with_columns(
        rid.alias("record_id"),
        pl.lit(spec.name).alias("source"),
        pl.lit(spec.kind).alias("kind"),
    ).drop("__slot")
    return conform(out), rejects


__all__ = ["CANONICAL_SCHEMA", "map_source"]
