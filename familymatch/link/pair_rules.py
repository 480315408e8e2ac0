"""Definite non-match rules over a pair's comparison levels, applied after scoring.

Each rule is a name and a SQL condition over the levels frame's columns (``fn``, ``sn``, ``dob``,
``loc``, ``sex``, ``mn``: levels as in ``compare.py``, -1 = missing; ``dob_year_gap``; ``sn_tf``,
``fn_tf``: name frequencies; ``match_weight``; ``log2_records``: log2 of the number of linkable
records, the weight of evidence that chance alone reaches for some pair in a population that size), so that a statistician can read them and a project can configure
them (``PairRule("name", "sn = 0 AND dob < 3")``). A pair meeting a rule is never linked by the
probabilistic stage; its stage is ``rule:<name>``. Household rules describe people who share a
home (twins, a father and son with one name, siblings) and are switched off with
``LinkConfig(household_guards=False)`` for data that is not about households (FEBRL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from familymatch.errors import ConfigError


@dataclass(frozen=True)
class PairRule:
    name: str
    condition: str  # SQL over the levels frame's columns
    household: bool = False  # applies only with household guards on


DEFAULT_PAIR_RULES: tuple[PairRule, ...] = (
    # same date of birth, surname and home, another forename: twins
    PairRule("twins", "loc >= 4 AND dob = 4 AND sn >= 3 AND fn = 0", household=True),
    # one name a generation apart at one home: father and son, mother and daughter (not a
    # keying slip in the year, dob = 1: 1974 / 1947 on the same day and month)
    PairRule(
        "different_generation",
        "loc >= 4 AND fn >= 3 AND sn >= 3 AND dob_year_gap >= 12 AND dob <> 1",
        household=True,
    ),
    # another (or no) forename without a confirming date of birth: siblings, spouses
    PairRule("forename_differs", "fn <= 0 AND dob < 3", household=True),
    # away from one address, a forename that differs or is missing needs a confirming date of birth
    PairRule(
        "forename_unconfirmed", "fn <= 0 AND dob < 3 AND loc < 5 AND match_weight < log2_records"
    ),
    # ... and so does one that only partly agrees (an initial, a middle name, a slip) among
    # families: "K TAYLOR" without a date of birth in the next street is as likely a relative
    # (fenwick at scale 1: 208 of the 221 such links were wrong)
    PairRule(
        "partial_forename_unconfirmed",
        "fn = 1 AND dob < 3 AND loc < 5 AND match_weight < log2_records",
        household=True,
    ),
    # another, barely similar or missing surname needs an exact date of birth and a shared area,
    # or (date of birth missing) the same forename at the same address (a marriage recorded in
    # one source only)
    PairRule(
        "surname_differs",
        "sn <= 1 AND NOT ((dob >= 3 AND loc >= 2) OR (dob = -1 AND fn >= 3 AND loc >= 5))"
        " AND match_weight < log2_records",
    ),
    # away from home a barely similar or missing forename confirms nothing
    PairRule("no_place_weak_forename", "loc <= 1 AND fn <= 1 AND match_weight < log2_records"),
    # without a shared place only an exact (or transposed) date of birth confirms a person:
    # common names with a near date of birth are different people in a city-sized population
    # (a near date of birth with strong enough names can: more evidence than chance produces)
    PairRule(
        "no_place_no_exact_dob",
        "loc <= 1 AND dob < 3 AND (dob <= 0 OR match_weight < log2_records)",
    ),
    # without a date of birth, names in one sector or street are not one person: relatives and
    # namesakes live near each other (estuary 10 such links, all wrong; fenwick 211 of 214 wrong)
    PairRule("no_dob_area_only", "dob = -1 AND loc = 2 AND match_weight < log2_records"),
)


def _conditions(rules: tuple[PairRule, ...], household_guards: bool) -> list[tuple[str, pl.Expr]]:
    """The active rules' names and conditions, in order."""
    out = []
    for r in rules:
        if r.household and not household_guards:
            continue
        try:
            out.append((r.name, pl.sql_expr(r.condition)))
        except Exception as exc:  # polars raises several types for bad SQL
            raise ConfigError(f"pair rule '{r.name}': its condition is not valid SQL.") from exc
    return out


def rule_stage(rules: tuple[PairRule, ...], household_guards: bool) -> pl.Expr:
    """``rule:<name>`` of the first rule a pair meets, else ``fs``."""
    expr: pl.Expr = pl.lit("fs")
    # built from the last rule so that the first one met wins
    for name, cond in reversed(_conditions(rules, household_guards)):
        expr = pl.when(cond).then(pl.lit(f"rule:{name}")).otherwise(expr)
    return expr


def levels_rule_met(
    rules: tuple[PairRule, ...], household_guards: bool, levels: pl.DataFrame
) -> np.ndarray:
    """Per row of ``levels`` (level columns only, e.g. every comparison pattern): whether it
    meets an active rule that reads nothing but the levels (``twins``, ``forename_differs``):
    such a pair is not linked by the probabilistic stage whatever its records' other columns."""
    met = np.zeros(levels.height, dtype=bool)
    for _, cond in _conditions(rules, household_guards):
        if set(cond.meta.root_names()) <= set(levels.columns):
            met |= levels.select(cond.fill_null(False))[:, 0].to_numpy()
    return met
