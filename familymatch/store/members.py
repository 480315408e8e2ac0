"""A family's members between two builds, compared as people (decision 0008, "Members as
people").

Each build stores, beside every member key (``nino:``, ``upn:``, ``name:SURNAME|FORENAME|dob``),
the build's person the key belongs to (``household_keys.person_id``). A person of the later build
is the same as a person of the earlier build's same family when

1. they share any key (a typo in one record of a person who keeps another key is no change), or
2. neither shares a key with anyone of the family and their names and dates of birth differ by
   keying slips only (:func:`slips`): a person known only by a name and date of birth, keyed
   ``THOMPOSN`` in one extract, is the same person. Within one family this cannot confuse two
   people: brothers and sisters differ in forename and date of birth, twins in forename.

Builds recorded before person ids were kept compare each key as a member of its own.
"""

from __future__ import annotations

import polars as pl
from rapidfuzz.distance import OSA

NAME = "name:"
PAIR = ("family_ref", "person", "person_b")


def members_as_people(keys: pl.DataFrame) -> tuple[pl.DataFrame, bool]:
    """family_ref, person, person_key from a build's stored keys (``previous_members``), and
    whether the build kept person ids. A build recorded before person ids were kept (null
    ``person_id``) counts each key as a person of its own, as ``cohort diff`` did then."""
    by_person = "person_id" in keys.columns and keys["person_id"].null_count() < keys.height
    person = (
        pl.coalesce(pl.col("person_id"), pl.format("key:{}", "person_key"))
        if by_person
        else pl.format("key:{}", "person_key")
    )
    return keys.select("family_ref", person.alias("person"), "person_key").unique(), by_person


def _name_slip(a: str, b: str) -> int | None:
    """0 same, 1 a slip (a letter wrong, missing, extra or two swapped; or a short form that
    begins the other, SAM / SAMUEL), None further."""
    if a == b:
        return 0
    short, long = sorted((a, b), key=len)
    return 1 if OSA.distance(a, b) <= 1 or (len(short) >= 3 and long.startswith(short)) else None


def _dob_slip(a: str, b: str) -> int | None:
    """0 same, 1 one of day, month, year wrong or day and month swapped, None further."""
    ya, ma, da = a.split("-")
    yb, mb, db = b.split("-")
    differ = (ya != yb) + (ma != mb) + (da != db)
    if differ <= 1:
        return differ
    return 1 if (ya, ma, da) == (yb, db, mb) else None


def _slips(sa: str, fa: str, sb: str, fb: str, dob: int) -> int | None:
    sur, fore = _name_slip(sa, sb), _name_slip(fa, fb)
    if fore is not None and dob == 0 and sur is None:
        return 2  # the surname changed (marriage, another service's family name)
    if sur is None or fore is None:
        return None
    total = dob + sur + fore
    return total if total < 3 else None


def slips(key_a: str, key_b: str) -> int | None:
    """How far two ``name:`` keys are by keying slips (0-2), or None when they are not the same
    person's. Same person: each of surname, forename and date of birth within one slip and at
    least one exact; or the same date of birth and forename within a slip whatever the surname;
    surname and forename may be swapped (one slip more)."""
    sa, fa, dob_a = key_a.removeprefix(NAME).split("|")
    sb, fb, dob_b = key_b.removeprefix(NAME).split("|")
    dob = _dob_slip(dob_a, dob_b)
    if dob is None:
        return None
    found = [_slips(sa, fa, sb, fb, dob)]
    swapped = _slips(sa, fa, fb, sb, dob)
    found.append(None if swapped is None or swapped >= 2 else swapped + 1)
    known = [f for f in found if f is not None]
    return min(known) if known else None


def _unmatched(mine: pl.DataFrame, other: pl.DataFrame) -> pl.DataFrame:
    """family_ref, person, person_key of the people of ``mine`` sharing no key with anyone of
    the same family in ``other``."""
    shared = mine.join(other.select("family_ref", "person_key"), on=["family_ref", "person_key"])
    found = shared.select("family_ref", "person").unique()
    return mine.join(found, on=["family_ref", "person"], how="anti")


def pair_by_slips(left: pl.DataFrame, joined: pl.DataFrame) -> pl.DataFrame:
    """family_ref, person (earlier), person_b (later): the unmatched people of a family paired one
    to one by their name keys' fewest :func:`slips` (ties: the smaller ids)."""
    names = [f.filter(pl.col("person_key").str.starts_with(NAME)) for f in (left, joined)]
    candidates = names[0].join(names[1], on="family_ref", suffix="_b")
    scored = candidates.with_columns(
        pl.struct("person_key", "person_key_b")
        .map_elements(lambda k: slips(k["person_key"], k["person_key_b"]), return_dtype=pl.Int64)
        .alias("slips")
    ).drop_nulls("slips")
    best = scored.group_by("family_ref", "person", "person_b").agg(pl.col("slips").min())
    chosen: list[tuple[str, str, str]] = []
    taken: set[tuple[str, str]] = set()
    for fam, a, b, _ in best.sort("slips", "family_ref", "person", "person_b").iter_rows():
        if (fam, a) not in taken and (fam, "b:" + b) not in taken:
            chosen.append((fam, a, b))
            taken |= {(fam, a), (fam, "b:" + b)}
    return pl.DataFrame(chosen, schema=dict.fromkeys(PAIR, pl.String), orient="row")


def _count(people: pl.DataFrame, column: str) -> pl.DataFrame:
    return people.group_by("family_ref").agg(
        pl.col("person").n_unique().cast(pl.Int64).alias(column)
    )


def member_changes(before: pl.DataFrame, after: pl.DataFrame) -> pl.DataFrame:
    """family_ref, members_before, members_now, joined, left (people) for the families present in
    both builds whose members differ. ``before`` / ``after``: family_ref, person, person_key
    (:func:`members_as_people`). A person of the later family sharing no key with the earlier
    family, and not paired by slips with one who shares none either, joined; one of the
    earlier family likewise left."""
    left, joined = _unmatched(before, after), _unmatched(after, before)
    paired = pair_by_slips(left, joined)
    left = left.join(paired.select("family_ref", "person"), on=["family_ref", "person"], how="anti")
    joined = joined.join(
        paired.select("family_ref", pl.col("person_b").alias("person")),
        on=["family_ref", "person"],
        how="anti",
    )
    return (
        _count(before, "members_before")
        .join(_count(after, "members_now"), on="family_ref")
        .join(_count(joined, "joined"), on="family_ref", how="left")
        .join(_count(left, "left"), on="family_ref", how="left")
        .with_columns(pl.col("joined", "left").fill_null(0).cast(pl.Int64))
        .filter((pl.col("joined") + pl.col("left")) > 0)
        .sort("family_ref")
    )
