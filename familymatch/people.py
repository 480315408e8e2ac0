"""Facts about a person drawn from all of their records: the date of birth most sources agree on,
the dates that differ from it by a keying slip, and whole-year ages. One definition for
households, rules and reports."""

from __future__ import annotations

from datetime import date

import polars as pl

from familymatch.link.compare import dobs_slip


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


def youngest_slip_dob(
    records: pl.DataFrame, usual: pl.DataFrame, keys: tuple[str, ...] = ("person_id",)
) -> pl.DataFrame:
    """``keys`` + ``slip_dob``: the latest of a person's recorded dates of birth that differs from
    their usual one (``usual``: ``modal_dob``) by a keying slip (one digit, two adjacent digits
    transposed: 1997 / 1979, the year alone off by one), for the people who have one.

    When two records of one person disagree by a slip, nothing in the data says which is the
    slip (a tie between two sources is broken to the earliest date): an age limit is then met if
    either date meets it (``rules.engine``), rather than trusting whichever date won the count."""
    k = list(keys)
    dates = records.drop_nulls("dob").select([*k, "dob"]).unique()
    both = dates.join(usual.rename({"dob": "usual"}), on=k)
    slip = pl.Series(dobs_slip(both["dob"], both["usual"]))
    return both.filter(slip).group_by(k).agg(pl.col("dob").max().alias("slip_dob")).sort(k)
