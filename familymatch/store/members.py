"""A family's members between two builds, compared as people (decision 0008, "Members as
people").

Each build stores, beside every member key (``nino:``, ``upn:``, ``name:SURNAME|FORENAME|dob``),
the build's person the key belongs to (``household_keys.person_id``). Read back with the build's
records, every person also has an identity per record, ``who:SURNAME|FORENAME|dob`` (the
forename as written, not nickname-folded; the date of birth empty when the record has none), so
people known without a date of birth, or by a nickname in one extract, are compared too
(:func:`identity_keys`). Within one family, a person of the later build is the same as a person
of the earlier build when

1. they share any key, except an identity without a date of birth (a typo in one record of a
   person who keeps another key is no change), or
2. neither shares a key with anyone of the family and their names and dates of birth differ by
   keying slips only (:func:`slips`), paired one to one, fewest slips first, or
3. what is left of one side is a split of a person of the other side that our build made: the
   same forename, or one of the two forenames a typo (:class:`Forenames`), and
   otherwise slips only (:func:`split_of`); two persons of one build that both match one person
   of the other are one.

Within one family this does not take two people for one: brothers and sisters differ in
forename and date of birth, twins in forename, and a forename two slips from another (JACK /
JAKE), or one slip from another found in both builds (TOM / TIM), is the same person's only
when one of the two is a typo: rare, no known name, one slip from a far commoner forename.

Builds recorded before person ids were kept compare each key as a member of its own.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import NamedTuple

import polars as pl
from rapidfuzz import process
from rapidfuzz.distance import OSA

from familymatch.link.cluster import dobs_close
from familymatch.standardise import nickname_table
from familymatch.store.engine import Store

NAME = "name:"
WHO = "who:"
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


RARE = 5  # a typo is seen on at most this many records of the two builds
COMMON = 10  # ... and is one slip from a forename seen this many times as often


@dataclass
class Forenames:
    """How often each forename is seen on the records of the two builds compared, to tell a
    typo (KTE, BLL) from a name (TIM beside TOM): a typo is rare, is no name of the nickname
    table, and is one slip from a forename seen at least ``COMMON`` times as often."""

    counts: dict[str, int] = field(default_factory=dict)
    _seen: dict[str, bool] = field(default_factory=dict, repr=False)
    _common: dict[int, list[str]] = field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, forenames: pl.Series) -> Forenames:
        counts = forenames.drop_nulls().value_counts()
        return cls(dict(zip(counts[forenames.name], counts["count"], strict=True)))

    def typo(self, name: str) -> bool:
        if name not in self._seen:
            seen = self.counts.get(name, 0)
            table = nickname_table()
            self._seen[name] = (
                seen <= RARE
                and name not in table
                and name not in table.values()
                and self._near_common(name, COMMON * max(seen, 1))
            )
        return self._seen[name]

    def _near_common(self, name: str, at_least: int) -> bool:
        """Whether a forename seen at least ``at_least`` times is one slip from ``name``."""
        if at_least not in self._common:  # one list per threshold (``COMMON`` x 1..``RARE``)
            by_count = sorted(self.counts.items(), key=lambda c: -c[1])
            self._common[at_least] = [
                n for n, _ in itertools.takewhile(lambda c: c[1] >= at_least, by_count)
            ]
        common = self._common[at_least]
        return process.extractOne(name, common, scorer=OSA.distance, score_cutoff=1) is not None


NO_COUNTS = Forenames()


def _name_slip(a: str, b: str, names: Forenames = NO_COUNTS) -> int | None:
    """0 same, 1 a slip (a letter wrong, missing, extra or two swapped; or a short form that
    begins the other, SAM / SAMUEL), 2 two such slips in a name of four letters or more when
    either is a typo (:meth:`Forenames.typo`; JACK / JAKE, two names, are two people), None
    further."""
    if a == b:
        return 0
    short, long = sorted((a, b), key=len)
    edits = OSA.distance(a, b)
    if edits <= 1 or (len(short) >= 3 and long.startswith(short)):
        return 1
    if edits == 2 and len(short) >= 4 and (names.typo(a) or names.typo(b)):
        return 2
    return 1 if (names.typo(a) or names.typo(b)) and _known_as(a) & _known_as(b) else None


@lru_cache(maxsize=4096)
def _known_as(name: str) -> frozenset[str]:
    """The full names ``name`` stands for: itself folded by the nickname table, and the full
    name of every nickname or name of the table one slip from it (ADN -> DAN -> DANIEL)."""
    table = nickname_table()
    near = {name} | {n for pair in table.items() for n in pair if OSA.distance(n, name) <= 1}
    return frozenset(table.get(n, n) for n in near)


def _dob_slip(a: str, b: str) -> int | None:
    """0 same, 1 a keying slip (:func:`familymatch.link.cluster.dobs_close`, the guard that
    keeps a father and son of one name apart) or unknown on a side, None further."""
    if not a or not b:
        return 1
    if a == b:
        return 0
    return 1 if dobs_close(date.fromisoformat(a), date.fromisoformat(b)) else None


def _slips(
    both: tuple[str, str, str, str], dob: int, dob_known: bool, names: Forenames
) -> int | None:
    sa, fa, sb, fb = both
    sur, fore = _name_slip(sa, sb, names), _name_slip(fa, fb, names)
    if fore is None:
        return None
    if sur is None:  # the surname changed (marriage, another service's family name)
        same = dob_known and ((dob == 0 and fore <= 1) or fore == 0)
        return 2 + dob if same else None
    total = dob + sur + fore
    return total if total <= 3 else None


def _parts(key: str) -> tuple[str, str, str]:
    sn, fn, dob = key.removeprefix(NAME).removeprefix(WHO).split("|")
    return sn, fn, dob


def slips(key_a: str, key_b: str, names: Forenames = NO_COUNTS) -> int | None:
    """How far two ``name:`` / ``who:`` keys are by keying slips (0-3), or None when they are
    not the same person's. Same person: the forename within a slip (two in a typo),
    the surname likewise and the date of birth within one slip (missing on a side counts as
    one), three slips at most; or, whatever the surname (marriage), the same date of birth and
    the forename within a slip, or the same forename and the date of birth within a slip. A
    typo one slip from a short form stands for its full name (ADN: DANIEL).
    Surname and forename may be swapped (one slip more)."""
    (sa, fa, dob_a), (sb, fb, dob_b) = _parts(key_a), _parts(key_b)
    dob = _dob_slip(dob_a, dob_b)
    if dob is None:
        return None
    known = bool(dob_a and dob_b)
    found = [
        _slips((sa, fa, sb, fb), dob, known, names),
        _slips((sa, fa, fb, sb), dob, known, names),
    ]
    found[1] = None if found[1] is None or found[1] > 2 else found[1] + 1
    scores = [f for f in found if f is not None]
    return min(scores) if scores else None


def split_of(key_a: str, key_b: str, names: Forenames = NO_COUNTS) -> bool:
    """Whether two keys of one family can be one person our build split in two: keying slips
    only, and the same forename (either way round) or one of the two forenames a typo. Twins
    differ in forename, and neither is a typo of the other."""
    (sa, fa, _), (_, fb, _) = _parts(key_a), _parts(key_b)
    named = fa == fb or sa == fb or names.typo(fa) or names.typo(fb)
    return named and slips(key_a, key_b, names) is not None


def _unmatched(mine: pl.DataFrame, other: pl.DataFrame) -> pl.DataFrame:
    """family_ref, person, person_key of the people of ``mine`` sharing no key with anyone of
    the same family in ``other`` (an identity without a date of birth is not a key: a father
    and son of one name may both have one)."""
    keys = other.filter(~pl.col("person_key").str.ends_with("|"))
    shared = mine.join(keys.select("family_ref", "person_key"), on=["family_ref", "person_key"])
    found = shared.select("family_ref", "person").unique()
    return mine.join(found, on=["family_ref", "person"], how="anti")


def _names(people: pl.DataFrame) -> pl.DataFrame:
    key = pl.col("person_key")
    return people.filter(key.str.starts_with(NAME) | key.str.starts_with(WHO))


def _scored(
    left: pl.DataFrame, joined: pl.DataFrame, rule: Callable[[str, str], int | None]
) -> pl.DataFrame:
    """family_ref, person, person_b, score: every pair of a family's people on the two sides,
    scored by ``rule`` on their name keys (null: not the same person)."""
    candidates = _names(left).join(_names(joined), on="family_ref", suffix="_b")
    return candidates.with_columns(
        pl.struct("person_key", "person_key_b")
        .map_elements(lambda k: rule(k["person_key"], k["person_key_b"]), return_dtype=pl.Int64)
        .alias("score")
    ).drop_nulls("score")


def pair_by_slips(
    left: pl.DataFrame, joined: pl.DataFrame, names: Forenames = NO_COUNTS
) -> pl.DataFrame:
    """family_ref, person (earlier), person_b (later): the unmatched people of a family paired one
    to one by their name keys' fewest :func:`slips` (ties: the smaller ids)."""
    scored = _scored(left, joined, lambda a, b: slips(a, b, names))
    best = scored.group_by("family_ref", "person", "person_b").agg(pl.col("score").min())
    chosen: list[tuple[str, str, str]] = []
    taken: set[tuple[str, str]] = set()
    for fam, a, b, _ in best.sort("score", "family_ref", "person", "person_b").iter_rows():
        if (fam, a) not in taken and (fam, "b:" + b) not in taken:
            chosen.append((fam, a, b))
            taken |= {(fam, a), (fam, "b:" + b)}
    return pl.DataFrame(chosen, schema=dict.fromkeys(PAIR, pl.String), orient="row")


def _without(people: pl.DataFrame, gone: pl.DataFrame) -> pl.DataFrame:
    return people.join(gone.select("family_ref", "person"), on=["family_ref", "person"], how="anti")


def _splits(
    rest: pl.DataFrame, everyone: pl.DataFrame, other: pl.DataFrame, names: Forenames
) -> pl.DataFrame:
    """The people of ``rest`` (unmatched on their side) that are a split of a person of the
    other build's family found there (:func:`split_of`), as family_ref, person."""
    found = _without(other, everyone)
    scored = _scored(rest, found, lambda a, b: 1 if split_of(a, b, names) else None)
    return scored.select("family_ref", "person").unique()


def _count(people: pl.DataFrame, column: str) -> pl.DataFrame:
    return people.group_by("family_ref").agg(
        pl.col("person").n_unique().cast(pl.Int64).alias(column)
    )


def member_changes(
    before: pl.DataFrame, after: pl.DataFrame, names: Forenames = NO_COUNTS
) -> pl.DataFrame:
    """family_ref, members_before, members_now, joined, left (people) for the families present in
    both builds whose members differ. ``before`` / ``after``: family_ref, person, person_key
    (:func:`members_as_people`, with :func:`identity_keys`). A person of the later family
    sharing no key with the earlier family, not paired by slips with one who shares none
    either, and not a split of a person found in both, joined; one of the earlier family
    likewise left. ``names``: the forenames of the two builds (:class:`Forenames`)."""
    left, joined = _unmatched(before, after), _unmatched(after, before)
    paired = pair_by_slips(left, joined, names)
    left = _without(left, paired)
    joined = _without(joined, paired.select("family_ref", person="person_b"))
    left, joined = (
        _without(left, _splits(left, joined, after, names)),
        _without(joined, _splits(joined, left, before, names)),
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


def identity_keys(std: pl.DataFrame, membership: pl.DataFrame) -> pl.DataFrame:
    """household_id, person_id, person_key ``who:SURNAME|FORENAME|dob`` of every record with a
    surname and forename: the forename as written (standardised, not nickname-folded) and the
    date of birth empty when the record has none. Compared by slips only, never shown."""
    who = pl.format("who:{}|{}|{}", "sn", "fn", pl.col("dob").cast(pl.String).fill_null(""))
    return (
        std.filter(pl.col("sn").is_not_null() & pl.col("fn").is_not_null())
        .select("record_id", who.alias("person_key"))
        .join(membership.select("record_id", "person_id", "household_id"), on="record_id")
        .select("household_id", pl.col("person_id").cast(pl.String), "person_key")
        .unique()
    )


class BuildPeople(NamedTuple):
    people: pl.DataFrame  # family_ref, person, person_key
    by_person: bool  # the build kept person ids
    forenames: pl.Series  # fn of every record (for :class:`Forenames`)


class Identities(NamedTuple):
    """What :func:`build_people` reads from a build's records: :func:`identity_keys` and the
    forename of every record."""

    who: pl.DataFrame  # household_id, person_id, person_key
    forenames: pl.Series


def identities_of(std: pl.DataFrame, membership: pl.DataFrame) -> Identities:
    """A build's :class:`Identities` from its standardised records and membership (a caller
    holding the build's frames need not read them back)."""
    return Identities(identity_keys(std, membership), std["fn"])


def build_people(store: Store, run_id: int, identities: Identities | None = None) -> BuildPeople:
    """The people of a complete build's families: its stored keys (:func:`members_as_people`)
    and, when it kept person ids, the identities of its records (``identities``, or read back
    and standardised as the build did: :func:`identity_keys`)."""
    from familymatch.canonical import CANONICAL_SCHEMA
    from familymatch.standardise import standardise
    from familymatch.store import schema as s
    from familymatch.store.families import previous_members
    from familymatch.store.runs import read_table

    people, by_person = members_as_people(previous_members(store, run_id))
    if not by_person:
        return BuildPeople(people, by_person, pl.Series("fn", [], dtype=pl.String))
    if identities is None:
        std = standardise(read_table(store, s.records, run_id).select(list(CANONICAL_SCHEMA)))
        identities = identities_of(std, read_table(store, s.membership, run_id))
    refs = read_table(store, s.households, run_id).select("household_id", "family_ref")
    who = identities.who.join(refs.drop_nulls("family_ref"), on="household_id")
    who = who.select("family_ref", pl.col("person_id").alias("person"), "person_key")
    return BuildPeople(pl.concat([people, who]), True, identities.forenames)


def compare_builds(a: BuildPeople, b: BuildPeople) -> pl.DataFrame:
    """:func:`member_changes` between two builds' people, typos told by both builds' forenames."""
    names = Forenames.of(pl.concat([a.forenames, b.forenames]))
    return member_changes(a.people, b.people, names)
