"""Facts about a person drawn from all of their records: the date of birth most sources agree on,
the dates that differ from it by a keying slip, and whole-year ages. One definition for
households, rules and reports."""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import polars as pl

from familymatch.link.compare import dobs_slip


def age_in_years(dob: pl.Expr, when: pl.Expr | date) -> pl.Expr:
    """Whole years from ``dob`` to ``when`` (a birthday on ``when`` counts)."""
    w = pl.lit(when) if isinstance(when, date) else when
    before_birthday = (w.dt.month() < dob.dt.month()) | (
        (w.dt.month() == dob.dt.month()) & (w.dt.day() < dob.dt.day())
    )
    return w.dt.year() - dob.dt.year() - before_birthday.cast(pl.Int32)


Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def most_common(frame: Frame, keys: tuple[str, ...], value: str) -> Frame:
    """``keys`` + ``value``: each key's most common non-null value, the lowest among equally
    common ones (counted by (keys, value), not a list of values gathered per key)."""
    k: list[str] = list(keys)
    return (
        frame.select([*k, value])  # the columns read, before the filter copies them
        .drop_nulls(value)
        .group_by([*k, value])
        .len()
        .sort([*k, "len", value], descending=[*([False] * len(k)), True, False])
        .group_by(k, maintain_order=True)
        .first()
        .select([*k, value])
    )


def modal_dob(records: pl.DataFrame, keys: tuple[str, ...] = ("person_id",)) -> pl.DataFrame:
    """``keys`` + ``dob``: each person's most common date of birth across their records (ties:
    the earliest)."""
    return most_common(records, keys, "dob")


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
    dates = records.select([*k, "dob"]).drop_nulls("dob").unique()
    both = dates.join(usual.rename({"dob": "usual"}), on=k)
    slip = pl.Series(dobs_slip(both["dob"], both["usual"]))
    return both.filter(slip).group_by(k).agg(pl.col("dob").max().alias("slip_dob")).sort(k)


# the ages a record of each kind can hold (whole years at the reference date): a pupil is of
# school age, a benefit claimant or partner 16 or over (dependants are children)
SOURCE_AGES: dict[str, tuple[int, int]] = {
    "school_census": (2, 19),
    "exclusions": (2, 19),
    "alternative_provision": (2, 19),
    "benefits": (16, 120),
}
CHILD_RELATIONSHIPS = ("dependant", "child")


def year_transposed(dob: pl.Expr) -> pl.Expr:
    """The date with the last two digits of its year swapped (1979-06-03 -> 1997-06-03; 29
    February becomes the 28th: the other year may have none)."""
    y, m, d = dob.dt.year(), dob.dt.month(), dob.dt.day()
    swapped = y // 100 * 100 + y % 10 * 10 + y // 10 % 10
    return pl.date(swapped, m, pl.when((m == 2) & (d == 29)).then(28).otherwise(d))


def source_slip_dob(records: pl.DataFrame, usual: pl.DataFrame, reference: date) -> pl.DataFrame:
    """person_id + ``slip_dob``: for a person whose usual date makes one of their records
    impossible for its source (``SOURCE_AGES``: a pupil of 23, a claimant of 15) and whose date
    with the year's last two digits transposed (the slip a year is keyed with: 1997 / 1979) makes
    every such record possible, that reading. A person whose records all carry the slipped date
    has nothing else to correct it by; the source's own population is the evidence."""
    kinds = pl.DataFrame(
        {
            "kind": list(SOURCE_AGES),
            "lo": [a for a, _ in SOURCE_AGES.values()],
            "hi": [b for _, b in SOURCE_AGES.values()],
        }
    )
    rel = pl.col("relationship").str.to_lowercase()
    bound = (
        records.select("person_id", "kind", "relationship")
        .filter(rel.is_null() | ~rel.is_in(CHILD_RELATIONSHIPS))
        .select("person_id", "kind")
        .unique()
        .join(kinds, on="kind")
        .join(usual, on="person_id")
        .with_columns(year_transposed(pl.col("dob")).alias("other"))
    )
    fits = lambda d: age_in_years(d, reference).is_between(pl.col("lo"), pl.col("hi"))  # noqa: E731
    return (
        bound.group_by("person_id")
        .agg(
            (~fits(pl.col("dob"))).any().alias("impossible"),
            fits(pl.col("other")).all().alias("slip_fits"),
            pl.col("other").first(),
        )
        .filter(pl.col("impossible") & pl.col("slip_fits"))
        .select("person_id", pl.col("other").alias("slip_dob"))
        .sort("person_id")
    )
