"""School terms as real dates, and when census absence data becomes available.

A term's absence is collected by the school census of the *following* term (autumn census: first
Thursday of October; spring: third Thursday of January; summer: third Thursday of May), so at a
reference date the latest terms with absence data lag a term behind. Exclusions and placements
come from the authority's own systems and are dated, so their "last N terms" are the term
containing the reference date and the N-1 before it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

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


@lru_cache(maxsize=8)
def load_calendar(path: Path = DEFAULT_CALENDAR) -> Calendar:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: the term calendar does not exist.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: is not valid TOML ({exc}).") from None
    terms = []
    for i, raw in enumerate(data.get("term", [])):
        key = f"term[{i}]"
        try:
            name, start, end = raw["name"], raw["start"], raw["end"]
        except KeyError as exc:
            raise ConfigError(f"{path}: {key}.{exc.args[0]}: is required.") from None
        if not (isinstance(start, date) and isinstance(end, date)) or end < start:
            raise ConfigError(f"{path}: {key}: start and end must be dates with start <= end.")
        terms.append(Term(name=name, start=start, end=end))
    terms.sort(key=lambda t: t.start)
    if not terms:
        raise ConfigError(f"{path}: term: no terms are listed.")
    return Calendar(terms=tuple(terms))
