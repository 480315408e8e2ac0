"""Blocking: candidate record pairs from polars joins on configurable key expressions.

Each rule names the standardised columns whose values must all be equal. Before joining, the
number of pairs each rule would create is estimated (sum over key groups of n(n-1)/2) and a rule
over the configured limit stops the run, naming the rule, before any memory is spent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from familymatch.errors import ConfigError
from familymatch.link.compare import street_expr

# derived blocking keys (beyond the standardised columns)
DERIVED_KEYS: dict[str, pl.Expr] = {
    "dob_year": pl.col("dob").dt.year().cast(pl.String),
    # day and month without the year: a keying slip in the year (1974 / 1947) keeps it
    "dob_day_month": pl.col("dob").dt.strftime("%m-%d"),
    # day and month sorted: a day/month transposition has the same key
    "dob_unordered": pl.format(
        "{}-{}-{}",
        pl.col("dob").dt.year(),
        pl.min_horizontal(pl.col("dob").dt.day(), pl.col("dob").dt.month()),
        pl.max_horizontal(pl.col("dob").dt.day(), pl.col("dob").dt.month()),
    ),
    # forename and surname in either order: a swapped name has the same key (the forename as
    # written: a swapped record's "forename" is a surname, which has no nickname to resolve)
    "name_unordered": pl.concat_str(
        [pl.min_horizontal("fn", "sn"), pl.max_horizontal("fn", "sn")], separator="|"
    ),
    # the two initials in either order: a swap with a typo in one of the names keeps them
    "initials_unordered": pl.concat_str(
        [
            pl.min_horizontal(pl.col("fn").str.slice(0, 1), pl.col("sn").str.slice(0, 1)),
            pl.max_horizontal(pl.col("fn").str.slice(0, 1), pl.col("sn").str.slice(0, 1)),
        ]
    ),
    # the address without house and flat numbers (link_records adds it as a column once)
    "addr_street": street_expr(pl.col("addr")),
    "fn_initial": pl.col("fn").str.slice(0, 1),
    "sn_initial": pl.col("sn").str.slice(0, 1),
}


# columns an earlier stage may put on the standardised frame (the address stage's resolved
# address entity): a rule keyed on one that is absent is skipped, not an error
OPTIONAL_KEYS = frozenset({"address_id"})


@dataclass(frozen=True)
class BlockingRule:
    name: str
    keys: tuple[str, ...]


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("surname_sound+dob", ("sn_phon", "dob")),
    BlockingRule("forename+surname+district", ("fn_canon", "sn", "pc_district")),
    BlockingRule("dob+postcode", ("dob", "pc")),
    BlockingRule("forename_sound+dob", ("fn_phon", "dob")),
    BlockingRule("postcode+forename", ("pc", "fn_canon")),
    BlockingRule("dob_unordered+surname_sound", ("dob_unordered", "sn_phon")),
    BlockingRule("names_unordered+dob_year", ("name_unordered", "dob_year")),
    BlockingRule("dob+surname_initial", ("dob", "sn_initial")),
    BlockingRule("postcode+birth_year", ("pc", "dob_year")),
    BlockingRule("names_sound+birth_year", ("fn_phon", "sn_phon", "dob_year")),
    BlockingRule("address", ("addr",)),
    BlockingRule("postcode+surname_initial", ("pc", "sn_initial")),
    BlockingRule("dob+initials_unordered", ("dob", "initials_unordered")),
    BlockingRule("postcode+initials_unordered", ("pc", "initials_unordered")),
    # a keying slip in the year of birth away from a shared postcode
    BlockingRule("names_sound+birth_day", ("fn_phon", "sn_phon", "dob_day_month")),
    # records without a date of birth (police, ASB) whose postcode is missing or mistyped
    BlockingRule("forename+surname+street", ("fn_canon", "sn", "addr_street")),
    BlockingRule("forename+surname+house_number", ("fn_canon", "sn", "addr_num")),
    # ... and with a typo in one of the names: its sound and the other's initial on one street
    # (on the house number alone these grow with the square of the city: 7.7M of synth_1m's
    # 18.4M pairs)
    BlockingRule("forename_sound+surname_initial+street", ("fn_phon", "sn_initial", "addr_street")),
    BlockingRule("surname_sound+forename_initial+street", ("sn_phon", "fn_initial", "addr_street")),
    # the resolved address entity (when the address stage has run): addresses written
    # differently by each system meet here
    BlockingRule("address_entity+forename_initial", ("address_id", "fn_initial")),
)

# wider rules for small data sets whose postcodes carry little (FEBRL's Australian postcodes):
# house number with an initial groups hundreds of thousands of pairs at city scale
WIDE_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("names_unordered", ("name_unordered",)),
    BlockingRule("names_sound", ("fn_phon", "sn_phon")),
    BlockingRule("house_number+surname_initial", ("addr_num", "sn_initial")),
    BlockingRule("house_number+forename_initial", ("addr_num", "fn_initial")),
)


def usable_rules(std: pl.DataFrame, rules: tuple[BlockingRule, ...]) -> tuple[BlockingRule, ...]:
    """The rules whose keys the frame has: a rule on an optional column it lacks is left out."""
    return tuple(
        r for r in rules if all(k not in OPTIONAL_KEYS or k in std.columns for k in r.keys)
    )


def key_frame(std: pl.DataFrame, rules: tuple[BlockingRule, ...]) -> pl.DataFrame:
    """Record index plus every column the rules block on (derived keys computed)."""
    needed = sorted({k for r in rules for k in r.keys})
    exprs = [pl.col("__i")]
    for k in needed:
        if k in std.columns:
            exprs.append(pl.col(k).cast(pl.String))
        elif k in DERIVED_KEYS:
            exprs.append(DERIVED_KEYS[k].cast(pl.String).alias(k))
        else:
            raise ConfigError(f"blocking rule key '{k}' is not a standardised column.")
    return std.select(exprs)


def estimate_pairs(gid: np.ndarray, valid: np.ndarray, new: np.ndarray | None = None) -> int:
    """Pairs a rule creates: sum over its key groups (``group_ids``) of n(n-1)/2, counted before
    any pair is made (nulls never block); with ``new``, less the pairs of two records not new
    (n(n-1)/2 - o(o-1)/2, o the group's other records)."""
    if new is None:
        counts = pl.Series(gid[valid]).value_counts(name="n")["n"].cast(pl.Int64)
        return int((counts * (counts - 1) // 2).sum())
    sizes = (
        pl.DataFrame({"g": gid[valid], "old": ~new[valid]})
        .group_by("g")
        .agg(pl.len().cast(pl.Int64).alias("n"), pl.col("old").sum().cast(pl.Int64).alias("o"))
    )
    n, o = sizes["n"], sizes["o"]
    return int((n * (n - 1) // 2 - o * (o - 1) // 2).sum())


def candidate_pairs(
    std: pl.DataFrame,
    rules: tuple[BlockingRule, ...] = DEFAULT_RULES,
    max_pairs_per_rule: int = 50_000_000,
    new: np.ndarray | None = None,
) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    """Distinct pairs (i < j, indices into ``std``'s ``__i``) with the first rule that found them
    (``rule`` = the rule's position in ``rules``). With ``new`` (one flag per row of ``std``),
    only the pairs with at least one new record: linking new records onto records already
    linked among themselves (``link_records(fixed=...)``)."""
    present = usable_rules(std, rules)
    keys = key_frame(std, present)
    stats: dict[str, dict[str, int]] = {}
    # one group id per rule and record (valid with every key)
    groups = {rule: group_ids(keys, rule) for rule in present}
    for rule in present:
        est = estimate_pairs(*groups[rule], new)
        stats[rule.name] = {"estimated": est}
        if est > max_pairs_per_rule:
            raise ConfigError(
                f"blocking rule '{rule.name}' would create {est:,} candidate pairs, over the "
                f"limit of {max_pairs_per_rule:,}; add a key to the rule or raise the limit."
            )
    # a pair is new to rule k when no earlier rule's group holds both records, so no rule's
    # pairs are kept twice
    earlier: list[tuple[np.ndarray, np.ndarray]] = []
    index = keys["__i"].to_numpy()  # row position -> record index (``__i``, increasing)
    del keys  # the key strings: the group ids are all the joins need
    parts = []
    for order, rule in enumerate(rules):
        if rule not in present:
            continue
        gid, valid = groups[rule]
        pairs = rule_pairs(gid, valid, new)
        stats[rule.name]["pairs"] = len(pairs)
        for g_prev, v_prev in earlier:  # the pairs an earlier rule found go at once
            i, j = pairs[:, 0], pairs[:, 1]
            pairs = pairs[~(v_prev[i] & v_prev[j] & (g_prev[i] == g_prev[j]))]
        stats[rule.name]["new"] = len(pairs)
        earlier.append((gid, valid))
        parts.append(
            pl.DataFrame(
                {
                    "i": index[pairs[:, 0]].astype(np.uint32),
                    "j": index[pairs[:, 1]].astype(np.uint32),
                    "rule": np.full(len(pairs), order, dtype=np.int16),
                }
            )
        )
        del pairs
    del groups, earlier
    if not parts:
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32, "rule": pl.Int16}), stats
    return pl.concat(parts, rechunk=False), stats  # one chunk a rule: no copy of every pair


def group_ids(keys: pl.DataFrame, rule: BlockingRule) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``keys``: the group id (a 64-bit hash of the rule's key combination) and
    whether every key is present (a record with a null key never blocks). A hash collision can
    only add candidate pairs, which are then compared like any other."""
    cols = list(rule.keys)
    frame = keys.select(
        pl.struct(cols).hash(seed=0).alias("g"),
        pl.all_horizontal(pl.col(c).is_not_null() for c in cols).alias("valid"),
    )
    return frame["g"].to_numpy(), frame["valid"].to_numpy()


def rule_pairs(gid: np.ndarray, valid: np.ndarray, new: np.ndarray | None = None) -> np.ndarray:
    """(i, j) row positions (i < j, UInt32, one row per pair) of every two valid rows that share
    a group id: the rule's pairs, grouped by block. With ``new``, only the pairs holding a new
    row (the new rows joined to their blocks, not every block to itself)."""
    k = pl.DataFrame({"__i": np.arange(len(gid), dtype=np.uint32)[valid], "g": gid[valid]})
    if new is None:
        k = k.filter(pl.len().over("g") > 1)
        pairs = k.join(k, on="g", suffix="_r").filter(pl.col("__i") < pl.col("__i_r"))
        return pairs.select("__i", "__i_r").to_numpy()
    k = k.with_columns(pl.Series("new", new[valid]))
    # a new row meets every other row of its block; two new rows meet once (lower one first)
    pairs = (
        k.filter(pl.col("new"))
        .join(k, on="g", suffix="_r")
        .filter((pl.col("__i") < pl.col("__i_r")) | ~pl.col("new_r"))
    )
    return pairs.select(
        pl.min_horizontal("__i", "__i_r").alias("i"), pl.max_horizontal("__i", "__i_r").alias("j")
    ).to_numpy()
