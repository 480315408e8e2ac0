"""Clustering matched pairs into persons, guarded against over-merging.

Edges are applied strongest first (identifier passes, then probabilistic links by weight) with a
union-find. A merge is refused when the two groups would then hold

* two different valid NINOs or two different valid UPNs (never one person);
* dates of birth that are not close (same, day/month transposed, one part different, or the
  year alone off by one): keeps a father and son with one name apart even when a record with no
  date of birth sits between them;
* forenames that are not alike (Jaro-Winkler < 0.80 after nicknames, unless a forename/surname
  swap): keeps twins (same date of birth, surname and address) apart.

Refused merges are counted per cluster and reported as suspicious, with oversized clusters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rapidfuzz.distance import JaroWinkler

Person = tuple[str | None, str | None, date | None]  # (fn_canon, sn, dob)


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
    if a.year == b.year and a.day == b.month and a.month == b.day:
        return True
    return abs(a.year - b.year) == 1 and a.month == b.month and a.day == b.day


def names_close(a: Person, b: Person) -> bool:
    fa, sa, _ = a
    fb, sb, _ = b
    if fa is None or fb is None or fa == fb:
        return True
    if (fa == sb and sa == fb) or fa == sb or fb == sa:
        return True
    return JaroWinkler.normalized_similarity(fa, fb) >= 0.80


def _one(value: str | None) -> set[str]:
    return {value} if value else set()


@dataclass
class Guard:
    ninos: set[str]
    upns: set[str]
    people: list[Person]


class PersonClusters:
    """Union-find over record indices with merge guards."""

    def __init__(
        self,
        fn: list[str | None],
        sn: list[str | None],
        dob: list[date | None],
        nino: list[str | None],
        upn: list[str | None],
    ) -> None:
        n = len(fn)
        self.parent = list(range(n))
        self.guard: list[Guard | None] = [
            Guard(_one(nino[i]), _one(upn[i]), [(fn[i], sn[i], dob[i])]) for i in range(n)
        ]
        self.refused = [0] * n

    def find(self, i: int) -> int:
        root = i
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[i] != root:
            self.parent[i], i = root, self.parent[i]
        return root

    def compatible(self, a: Guard, b: Guard, check_people: bool) -> bool:
        if a.ninos and b.ninos and a.ninos != b.ninos:
            return False
        if a.upns and b.upns and a.upns != b.upns:
            return False
        if not check_people:
            return True
        for pa in a.people:
            for pb in b.people:
                if not dobs_close(pa[2], pb[2]) or not names_close(pa, pb):
                    return False
        return True

    def union(self, i: int, j: int, check_people: bool = True) -> bool:
        ri, rj = self.find(i), self.find(j)
        if ri == rj:
            return True
        gi, gj = self.guard[ri], self.guard[rj]
        assert gi is not None and gj is not None
        if not self.compatible(gi, gj, check_people):
            self.refused[ri] += 1
            self.refused[rj] += 1
            return False
        if len(gi.people) < len(gj.people):
            ri, rj, gi, gj = rj, ri, gj, gi
        self.parent[rj] = ri
        gi.ninos |= gj.ninos
        gi.upns |= gj.upns
        # keep distinct identities only: the guard checks stay small
        seen = set(gi.people)
        gi.people.extend(p for p in gj.people if p not in seen)
        self.refused[ri] += self.refused[rj]
        self.guard[rj] = None
        return True

    def roots(self) -> list[int]:
        return [self.find(i) for i in range(len(self.parent))]
