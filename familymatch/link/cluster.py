"""Clustering matched pairs into persons, guarded against over-merging.

Edges are applied strongest first (identifier passes, then probabilistic links by weight) with a
union-find. A merge is refused when the two groups would then hold

* two different valid NINOs or two different valid UPNs (never one person);
* dates of birth that are not close (same, day/month transposed, one part different, or the
  year alone off by one): keeps a father and son with one name apart even when a record with no
  date of birth sits between them;
* forenames that are not alike (Jaro-Winkler < 0.80 after nicknames, unless a forename/surname
  swap, an initial of the other, the other's first middle name, or one slip apart: the
  comparison's "partly agrees"): keeps twins (same date of birth, surname and address) apart.

Refused merges are counted per cluster and reported as suspicious, with oversized clusters.

Persons held fixed (records linked onto a build: ``link_records(fixed=...)``) enter as groups
merged in advance, each marked with its person; a merge of two groups with different marks is
refused like any other, so records join at most one fixed person and fixed persons never merge.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, JaroWinkler

from familymatch.link.compare import first_middle

# (fn, fn_canon, sn, dob, first middle name)
Person = tuple[str | None, str | None, str | None, date | None, str | None]
# a record as the guard knows it: its person, then its NINO and UPN
GuardRow = tuple[
    str | None, str | None, str | None, date | None, str | None, str | None, str | None
]


def dobs_close(a: date | None, b: date | None) -> bool:
    if a is None or b is None or a == b:
        return True
    da, db = a.strftime("%Y%m%d"), b.strftime("%Y%m%d")
    diff = [i for i in range(8) if da[i] != db[i]]
    if len(diff) == 1:  # one digit mistyped
        return True
    if (
        len(diff) == 2
        and diff[1] == diff[0] + 1
        and da[diff[0]] == db[diff[1]]
        and da[diff[1]] == db[diff[0]]
    ):
        return True  # two adjacent digits transposed (1984 / 1948)
    if a.year == b.year and (a.month == b.month or a.day == b.day):
        return True
    if a.year == b.year and ((a.month, a.day) == (1, 1) or (b.month, b.day) == (1, 1)):
        return True  # 1 January: the placeholder for an unknown day and month
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return True
    return abs(a.year - b.year) == 1 and a.month == b.month and a.day == b.day


def _initial(a: str | None, b: str | None) -> bool:
    return (
        a is not None and b is not None and (a == b[:1] or b == a[:1]) and min(len(a), len(b)) == 1
    )


def _alike(a: str | None, b: str | None) -> bool:
    """Two names that are one written with a slip or as an initial of the other."""
    if a is None or b is None:
        return False
    return (
        a == b
        or _initial(a, b)
        or JaroWinkler.normalized_similarity(a, b) >= 0.80
        or (min(len(a), len(b)) >= 2 and OSA.distance(a, b, score_cutoff=1) == 1)
    )


def partly_agree(a: Person, b: Person) -> bool:
    """An initial of the other forename (as written or through nicknames), the other's first
    middle name, or one slip apart (as ``compare.forename_partly_agrees``)."""
    raw_a, fa, _, _, mid_a = a
    raw_b, fb, _, _, mid_b = b
    if _initial(raw_a, raw_b) or _initial(raw_a, fb) or _initial(fa, raw_b):
        return True
    if (raw_a is not None and raw_a == mid_b) or (raw_b is not None and raw_b == mid_a):
        return True
    return (
        raw_a is not None
        and raw_b is not None
        and min(len(raw_a), len(raw_b)) >= 2
        and OSA.distance(raw_a, raw_b, score_cutoff=1) == 1
    )


def names_close(a: Person, b: Person) -> bool:
    raw_a, fa, sa, _, _ = a
    raw_b, fb, sb, _, _ = b
    if fa is None or fb is None or fa == fb:
        return True
    if (fa == sb and sa == fb) or fa == sb or fb == sa:
        return True
    if _alike(raw_a, sb) and _alike(sa, raw_b):
        return True  # swapped, with a typo or an initial ("JONES M" / "MICHAEL JNES")
    if JaroWinkler.normalized_similarity(fa, fb) >= 0.80 or partly_agree(a, b):
        return True
    # a typo in a nickname: the raw forenames are close though the resolved ones are not
    return (
        raw_a is not None
        and raw_b is not None
        and JaroWinkler.normalized_similarity(raw_a, raw_b) >= 0.80
    )


def _one(value: str | None) -> set[str]:
    return {value} if value else set()


class Guard:
    """A group's identifiers, distinct identities (in the order they joined; ``known``: the
    same, for membership tests) and the person held fixed it holds (its first record). A plain
    class with slots: one is made for every record that takes part in a merge."""

    __slots__ = ("ninos", "upns", "people", "known", "fixed")

    def __init__(
        self,
        ninos: set[str],
        upns: set[str],
        people: list[Person],
        known: set[Person] | None = None,
        fixed: int | None = None,
    ) -> None:
        self.ninos = ninos
        self.upns = upns
        self.people = people
        self.known = set(people) if known is None else known
        self.fixed = fixed


class PersonClusters:
    """Union-find over record indices with merge guards.

    Only the records that take part in an edge are known to it (``people``: record index ->
    (fn, fn_canon, sn, dob, first middle name, nino, upn)); every other record stays its own person, so a city of a
    million records costs memory for its linked records only.
    """

    def __init__(
        self,
        n: int,
        people: dict[int, GuardRow],
        fixed: dict[int, int] | None = None,
    ) -> None:
        self.n = n
        self.people = people
        self.fixed = fixed or {}  # record index -> the person held fixed it belongs to
        self.parent: dict[int, int] = {}
        self.guard: dict[int, Guard] = {}
        self.refused: dict[int, int] = {}

    def find(self, i: int) -> int:
        parent = self.parent
        root = parent.get(i)
        if root is None:  # a root is never its own parent in the dict: one lookup
            return i
        up = parent.get(root)
        while up is not None:
            root, up = up, parent.get(up)
        while i != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    def _guard(self, root: int) -> Guard:
        g = self.guard.get(root)
        if g is None:
            fn, canon, sn, dob, mid, nino, upn = self.people[root]
            person = (fn, canon, sn, dob, mid)
            g = self.guard[root] = Guard(
                _one(nino), _one(upn), [person], {person}, self.fixed.get(root)
            )
        return g

    def compatible(self, a: Guard, b: Guard, check_people: bool) -> bool:
        if a.fixed is not None and b.fixed is not None and a.fixed != b.fixed:
            return False
        if a.ninos and b.ninos and a.ninos != b.ninos:
            return False
        if a.upns and b.upns and a.upns != b.upns:
            return False
        if not check_people:
            return True
        for pa in a.people:
            for pb in b.people:
                if pa == pb:  # one identity is close to itself (both tests pass at once)
                    continue
                if not dobs_close(pa[3], pb[3]) or not names_close(pa, pb):
                    return False
        return True

    def union(self, i: int, j: int, check_people: bool = True, force: bool = False) -> bool:
        """Merge the groups of ``i`` and ``j`` unless the guard refuses (``force``: the records
        of one person held fixed, merged whatever they hold)."""
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        guard = self.guard
        gi = guard.get(ri) or self._guard(ri)
        gj = guard.get(rj) or self._guard(rj)
        if not force and not self.compatible(gi, gj, check_people):
            self.refused[ri] = self.refused.get(ri, 0) + 1
            self.refused[rj] = self.refused.get(rj, 0) + 1
            return False
        if len(gi.people) < len(gj.people):
            ri, rj, gi, gj = rj, ri, gj, gi
        self.parent[rj] = ri
        if gj.ninos:
            gi.ninos |= gj.ninos
        if gi.fixed is None:
            gi.fixed = gj.fixed
        if gj.upns:
            gi.upns |= gj.upns
        # keep distinct identities only: the guard checks stay small
        known = gi.known
        for p in gj.people:
            if p not in known:
                known.add(p)
                gi.people.append(p)
        refused = self.refused
        if rj in refused:
            refused[ri] = refused.get(ri, 0) + refused.pop(rj)
        del guard[rj]
        return True

    def roots(self) -> np.ndarray:
        """The root record of every record's person (a record never linked is its own)."""
        out = np.arange(self.n, dtype=np.int64)
        for i in self.parent:
            out[i] = self.find(i)
        return out

    def refused_by_root(self) -> dict[int, int]:
        """Merges refused per person (by root record), for the suspicious-cluster report."""
        return {self.find(r): c for r, c in self.refused.items() if c}


# the record columns the guard reads (its person: fn, fn_canon, sn, dob, first middle name; then
# the identifiers)
GUARD_READS = ("fn", "fn_canon", "sn", "dob", "mn", "nino_std", "upn_std")


def guard_people(frame: pl.DataFrame) -> dict[int, GuardRow]:
    """``PersonClusters``' people from a frame of ``__i`` and ``GUARD_READS``: record index ->
    (fn, fn_canon, sn, dob, first middle name, nino, upn)."""
    rows = frame.select(
        "__i", "fn", "fn_canon", "sn", "dob", first_middle("mn"), "nino_std", "upn_std"
    )
    # columns as lists zipped into the tuples: no row tuple made and sliced again
    people = zip(*(rows[c].to_list() for c in rows.columns[1:]), strict=True)
    return dict(zip(rows["__i"].to_list(), people, strict=True))


def components(n: int, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """The connected component of each of ``n`` records over the edges (i, j), as the index of
    one of its records (every record of a component carries the same one): minimum labels
    hooked along the edges and shortcut until nothing changes."""
    label = np.arange(n, dtype=np.int64)
    while True:
        low = np.minimum(label[i], label[j])
        new = label.copy()
        np.minimum.at(new, i, low)
        np.minimum.at(new, j, low)
        new = new[new]
        if np.array_equal(new, label):
            return label
        label = new
