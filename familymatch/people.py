"""Facts about a person drawn from all of their records: the date of birth most sources agree on,
and whole-year ages. One definition for households, rules and reports."""

from __future__ import annotations

from datetime import date

import polars as pl


def age_in_years(dob: pl.Expr, when: pl.Expr | date) -> pl.Expr:
    """Whole years from ``dob`` to ``when`` (a birthday on ``when`` counts)."""
    w = pl.lit(when) if isinstance(when, date) else when
    before_birthday = (w.dt.month() < dob.dt.month()) | (
        (w.dt.month() == dob.dt.month()) & (w.dt.day() < dob.dt.day())
    )
    return w.dt.year() - dob.dt.year() - before_birthday.cast(pl.Int32)


def modal_dob(records: pl.DataFrame, keys: tuple[str, ...] = ("person_id",)) -> pl.DataFrame:
    """``keys`` + ``dob``: each person's most common date of birth across their records (ties:
    the earliest)."""
    k = list(keys)
    return (
        records.drop_nulls("dob")
        .group_by([*k, "dob"])
        .len()
        .sort([*k, "len", "dob"], descending=[*([False] * len(k)), True, False])
        .group_by(k, maintain_order=True)
        .first()
        .select([*k, "dob"])
    )
