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
from familymatch.project import FieldSpec, Period, SourceSpec

SLOT_IDENTITY = ("forename", "middle_names", "surname", "dob")


def _field_exprs(
    specs: dict[str, FieldSpec], prefix: str, today: date, reference: date | None
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
            value, more = fl.date_value(spec, name, today, reference)
        elif name in fl.INT_FIELDS or name in fl.FLOAT_FIELDS:
            value, more = fl.number_value(spec, name)
        else:
            value, more = fl.text(spec), []
        exprs.append(value.alias(f"{prefix}{name}"))
        checks.extend(more)
    return exprs, checks


def _rejects(
    spec: SourceSpec, table: RawTable, wide: pl.DataFrame, checks: list[fl.Check]
) -> pl.DataFrame:
    """One line per (row, bad check), and one per ragged row."""
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
    return pl.concat([ragged, *[p.cast(REJECT_SCHEMA) for p in reject_parts]], how="vertical").sort(
        ["row", "column"], nulls_last=False
    )


def _period_present(period: Period) -> pl.Expr:
    """A period gives a record on a row unless every column it reads is empty there."""
    cols = [c for f in period.fields.values() for c in f.columns()]
    if not cols:
        return pl.lit(True)
    return pl.any_horizontal([pl.col(c).is_not_null() for c in cols])


def _slot_records(
    wide: pl.DataFrame, spec: SourceSpec, prefix: str, role: str | None
) -> pl.DataFrame:
    """The records of one person slot: one per row, or one per row and present period."""
    periods: list[tuple[str | None, str | None]] = [(None, None)]
    if spec.periods:
        periods = [(f"t{k}__", p.label) for k, p in enumerate(spec.periods)]
    shared = {c.removeprefix("s__"): c for c in wide.columns if c.startswith("s__")}
    own = {c.removeprefix(prefix): c for c in wide.columns if c.startswith(prefix)}
    parts = []
    for order, (group, label) in enumerate(periods):
        fields, part = dict(shared), wide
        if group is not None:
            fields |= {c.removeprefix(group): c for c in wide.columns if c.startswith(group)}
            part = wide.filter(pl.col(f"__has{order}"))
        fields |= own
        parts.append(
            part.select(
                pl.col(ROW).alias("row"),
                *[pl.col(c).alias(n) for n, c in fields.items()],
                pl.lit(label, dtype=pl.String).alias("__period"),
                pl.lit(order).alias("__order"),
            )
        )
    out = pl.concat(parts, how="diagonal_relaxed")
    if spec.people:
        identity = [n for n in SLOT_IDENTITY if n in out.columns]
        out = (
            out.filter(pl.any_horizontal(pl.col(identity).is_not_null()))
            if identity
            else out.clear()
        )
    return out.with_columns(pl.lit(role, dtype=pl.String).alias("role"))


def record_id_expr(spec: SourceSpec) -> pl.Expr:
    """``<source>:<row>[:<role>][:<period label>]``."""
    parts = [pl.lit(spec.name), pl.col("row").cast(pl.String)]
    if spec.people:
        parts.append(pl.col("role"))
    if spec.periods:
        parts.append(pl.col("__period"))
    return pl.concat_str(parts, separator=":")


def map_source(
    spec: SourceSpec, table: RawTable, today: date | None = None, reference: date | None = None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Canonical records and rejects (REJECT_SCHEMA) for one source. ``reference`` (the
    project's reference date) bounds two-digit years read with century "past"."""
    today = today or date.today()
    frame = table.frame
    shared_exprs, checks = _field_exprs(spec.columns, "s__", today, reference)
    extra: list[pl.Expr] = []
    for k, period in enumerate(spec.periods):
        exprs, more = _field_exprs(period.fields, f"t{k}__", today, reference)
        extra.extend([*exprs, _period_present(period).alias(f"__has{k}")])
        checks.extend(more)
    slot_prefixes: list[tuple[str | None, str]] = []
    for i, slot in enumerate(spec.slots()):
        prefix = f"p{i}__"
        exprs, more = _field_exprs(slot.fields, prefix, today, reference)
        extra.extend(exprs)
        checks.extend(more)
        slot_prefixes.append((slot.role, prefix))
    bad_cols = [c.bad.fill_null(False).alias(f"__bad{i}") for i, c in enumerate(checks)]
    wide = frame.select([pl.col(ROW), *shared_exprs, *extra, *bad_cols])
    rejects = _rejects(spec, table, wide, checks)
    if checks:
        wide = wide.filter(~pl.any_horizontal([pl.col(f"__bad{i}") for i in range(len(checks))]))

    records = [
        _slot_records(wide, spec, prefix, role).with_columns(pl.lit(slot).alias("__slot"))
        for slot, (role, prefix) in enumerate(slot_prefixes)
    ]
    out = pl.concat(records, how="diagonal_relaxed").sort(["row", "__slot", "__order"])
    out = out.with_columns(
        record_id_expr(spec).alias("record_id"),
        pl.lit(spec.name).alias("source"),
        pl.lit(spec.kind).alias("kind"),
    )
    return conform(out), rejects


__all__ = ["CANONICAL_SCHEMA", "map_source", "record_id_expr"]
