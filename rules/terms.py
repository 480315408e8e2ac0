"""School terms as real dates, and when census absence data becomes available.

A term's absence is collected by the school census of the *following* term (autumn census: first
Thursday of October; spring: third Thursday of January; summer: third Thursday of May), so at a
reference date the latest terms with absence data lag a term behind. Exclusions and placements
come from the authority's own systems and are dated, so their "last N terms" are the term
containing the reference date and the N-1 before it.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from familymatch.config import ConfigContext, read_toml
from familymatch.errors import ConfigError

DEFAULT_CALENDAR = Path(__file__).with_name("terms.toml")


@dataclass(frozen=True)
class Term:
    name: str  # "2011/12-autumn"
    start: date
    end: date

    @property
    def season(self) -> str:
        return self.name.rsplit("-", 1)[1]


def _nth_thursday(year: int, month: int, n: int) -> date:
    d = date(year, month, 1)
    d += timedelta(days=(3 - d.weekday()) % 7)
    return d + timedelta(weeks=n - 1)


def census_day(term: Term) -> date:
    """The census day falling in ``term``."""
    if term.season == "autumn":
        return _nth_thursday(term.start.year, 10, 1)
    if term.season == "spring":
        return _nth_thursday(term.start.year, 1, 3)
    return _nth_thursday(term.start.year, 5, 3)


@dataclass(frozen=True)
class Calendar:
    terms: tuple[Term, ...]

    def term_index_at(self, when: date) -> int:
        """Index of the term containing ``when``, or of the last term that started before it
        (holidays belong to the term before)."""
        idx = -1
        for i, t in enumerate(self.terms):
            if t.start <= when:
                idx = i
        if idx < 0 or (
            idx == len(self.terms) - 1 and when > self.terms[idx].end + timedelta(days=60)
        ):
            raise ConfigError(
                f"school term calendar: no term covers {when.isoformat()}; add term dates."
            )
        return idx

    def event_window_start(self, when: date, terms: int) -> date:
        """Start of the last ``terms`` terms ending at ``when`` (the term containing it counts)."""
        idx = self.term_index_at(when)
        if idx - terms + 1 < 0:
            raise ConfigError(
                f"school term calendar: fewer than {terms} terms before {when.isoformat()}."
            )
        return self.terms[idx - terms + 1].start

    def census_terms(self, when: date, terms: int) -> list[str]:
        """The ``terms`` most recent terms whose absence data is available at ``when``."""
        available = [
            t.name for i, t in enumerate(self.terms[:-1]) if census_day(self.terms[i + 1]) <= when
        ]
        if len(available) < terms:
            raise ConfigError(
                f"school term calendar: fewer than {terms} terms of census data by {when.isoformat()}."
            )
        return available[-terms:]


TERM_NAME = re.compile(r"^\d{4}/\d{2}-(autumn|spring|summer)$")


def _term(ctx: ConfigContext, key: str, raw: object) -> Term:
    table = ctx.table(key, raw, allowed={"name", "start", "end"}, required={"name", "start", "end"})
    name = ctx.text(f"{key}.name", table["name"])
    if not TERM_NAME.match(name):
        raise ctx.fail(f"{key}.name", f"'{name}' is not a term name like 2011/12-autumn.")
    start, end = table["start"], table["end"]
    for part, value in (("start", start), ("end", end)):
        if not isinstance(value, date) or isinstance(value, datetime):
            raise ctx.fail(f"{key}.{part}", "must be a date (start = 2011-09-05, no quotes).")
    if end < start:
        raise ctx.fail(f"{key}.end", "is before start.")
    return Term(name=name, start=start, end=end)


@lru_cache(maxsize=8)
def load_calendar(path: Path = DEFAULT_CALENDAR) -> Calendar:
    """A term calendar (``[[term]]`` tables: name, start, end), validated: errors name the file
    and the dotted key. The packaged rules/terms.toml by default; ``[project] terms`` names a
    council's own."""
    ctx = ConfigContext(path)
    if not path.is_file():
        raise ConfigError(f"{path}: the term calendar does not exist.")
    data, _ = read_toml(path)
    ctx.keys("", data, {"term"})
    raw_terms = data.get("term", [])
    if not isinstance(raw_terms, list) or not raw_terms:
        raise ctx.fail("term", "no terms are listed ([[term]] with name, start, end).")
    terms = [_term(ctx, f"term[{i}]", raw) for i, raw in enumerate(raw_terms)]
    names = [t.name for t in terms]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ctx.fail(f"term[{i}].name", f"'{name}' appears twice.")
    order = sorted(range(len(terms)), key=lambda i: terms[i].start)
    for a, b in itertools.pairwise(order):
        if terms[b].start <= terms[a].end:
            raise ctx.fail(f"term[{b}]", f"overlaps {terms[a].name}.")
    return Calendar(terms=tuple(terms[i] for i in order))


def project_calendar(terms: Path | None) -> Calendar:
    """The council's calendar (``[project] terms``) or the packaged one."""
    return load_calendar(terms) if terms is not None else load_calendar()
