"""Blocking: candidate record pairs from polars joins on configurable key expressions.

Each rule names the standardised columns whose values must all be equal. Before joining, the
number of pairs each rule would create is estimated (sum over key groups of n(n-1)/2) and a rule
over the limit stops the run, naming the rule, before any memory is spent. The limit grows with
the records (``max_pairs_per_record`` on average, at least ``max_pairs_per_rule``): a rule on
keys of fixed cardinality (date of birth + surname initial) makes pairs in proportion to the
square of the population, so a county of four million records needs a higher ceiling than a
city, while a rule that pairs each record with hundreds of others is too loose at any size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import polars as pl

from familymatch.errors import ConfigError
from familymatch.link.compare import street_expr
from familymatch.link.threads import on_threads

# derived blocking keys (beyond the standardised columns)
DERIVED_KEYS: dict[str, pl.Expr] = {
    # dates' parts as integers (one value per class of the strings they stood for before: the
    # same groups, hashed without formatting a string per record)
    "dob_year": pl.col("dob").dt.year(),
    # day and month without the year: a keying slip in the year (1974 / 1947) keeps it
    "dob_day_month": pl.col("dob").dt.month().cast(pl.Int32) * 100 + pl.col("dob").dt.day(),
    # day and month sorted: a day/month transposition has the same key
    "dob_unordered": pl.col("dob").dt.year().cast(pl.Int32) * 10_000
    + pl.min_horizontal(pl.col("dob").dt.day(), pl.col("dob").dt.month()).cast(pl.Int32) * 100
    + pl.max_horizontal(pl.col("dob").dt.day(), pl.col("dob").dt.month()),
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
    # a place key the rule is narrowed to when it would pair each record with more than
    # ``WITHIN_ABOVE_PER_RECORD`` others on average (its keys name no place, or a place only
    # within a town, so its pairs grow with the square of the population)
    within: str | None = None

    def narrowed(self) -> BlockingRule:
        """The rule inside its ``within`` place (a record without one is not blocked by it)."""
        return BlockingRule(self.name, (*self.keys, self.within)) if self.within else self


# pairs per record above which a rule with ``within`` runs inside its place. Measured per record
# (docs/decisions/0016-link-execution.md, session 5): dob+surname_initial / address 3.9 / 5.5 on
# the harness's synth_1m, 7.3 / 14.9 at scale 10 (a county of 1.9M records), growing with the
# records (about a tenth of scale 10's at scale 1): above every data set whose figures of
# quality were established with these rules across the whole population, below a county's
WITHIN_ABOVE_PER_RECORD = 6.0


DEFAULT_RULES: tuple[BlockingRule, ...] = (
    BlockingRule("surname_sound+dob", ("sn_phon", "dob")),
    BlockingRule("forename+surname+district", ("fn_canon", "sn", "pc_district")),
    BlockingRule("dob+postcode", ("dob", "pc")),
    BlockingRule("forename_sound+dob", ("fn_phon", "dob")),
    BlockingRule("postcode+forename", ("pc", "fn_canon")),
    BlockingRule("dob_unordered+surname_sound", ("dob_unordered", "sn_phon")),
    BlockingRule("names_unordered+dob_year", ("name_unordered", "dob_year")),
    # within a postcode district at county scale (``within``): see candidate_pairs
    BlockingRule("dob+surname_initial", ("dob", "sn_initial"), within="pc_district"),
    BlockingRule("postcode+birth_year", ("pc", "dob_year")),
    BlockingRule("names_sound+birth_year", ("fn_phon", "sn_phon", "dob_year")),
    # an address as written names its place only within a town ("12 HIGH STREET" is in every
    # one): within a postcode district at county scale
    BlockingRule("address", ("addr",), within="pc_district"),
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
    """Record index plus every column the rules block on (derived keys computed), each in its
    own type: a key's groups are its values' (hashed as they are, not as strings)."""
    needed = sorted({k for r in rules for k in r.keys})
    exprs = [pl.col("__i")]
    for k in needed:
        if k in std.columns:
            exprs.append(pl.col(k))
        elif k in DERIVED_KEYS:
            exprs.append(DERIVED_KEYS[k].alias(k))
        else:
            raise ConfigError(f"blocking rule key '{k}' is not a standardised column.")
    return std.select(exprs)


def estimate_pairs(gid: np.ndarray, valid: np.ndarray, new: np.ndarray | None = None) -> int:
    """Pairs a rule creates: sum over its key groups (``group_ids``) of n(n-1)/2, counted before
    any pair is made (nulls never block); with ``new``, only the pairs holding a new record."""
    blocks = rule_blocks(gid, valid)
    return blocks.estimated if new is None else touching(blocks, new)[1]


@dataclass(frozen=True)
class RuleBlocks:
    """A rule's blocks of two records or more: their rows sorted by block (``rows``, UInt32,
    ascending within a block), each block's size, and every row's block number (``block``,
    UInt32: a row in no such block, or with a key missing, has a number of its own, so two rows
    share a number exactly when the rule pairs them)."""

    rows: np.ndarray
    sizes: np.ndarray
    block: np.ndarray

    @property
    def estimated(self) -> int:
        sizes = self.sizes.astype(np.int64)
        return int((sizes * (sizes - 1) // 2).sum())


def rule_blocks(gid: np.ndarray, valid: np.ndarray) -> RuleBlocks:
    """The blocks of the rows with every key (``group_ids``): one sort of their group ids."""
    rows = np.flatnonzero(valid).astype(np.uint32)
    # stable (rows ascending within a block: i < j); polars' sort on two threads (0.07 against
    # numpy's 0.10 CPU s per 1M keys, decision 0016 session 6)
    by_group = pl.DataFrame({"g": gid[rows], "row": rows}).sort("g", maintain_order=True)
    rows = by_group["row"].to_numpy()
    g = gid[rows]
    ends = np.r_[np.flatnonzero(g[1:] != g[:-1]) + 1, len(g)]
    sizes = np.diff(np.r_[0, ends])
    multi = sizes > 1
    rows, sizes = rows[np.repeat(multi, sizes)], sizes[multi].astype(np.uint32)
    block = np.arange(len(gid), dtype=np.uint32) + np.uint32(len(sizes))
    block[rows] = np.repeat(np.arange(len(sizes), dtype=np.uint32), sizes)
    return RuleBlocks(rows, sizes, block)


def to_make(blocks: RuleBlocks, new: np.ndarray | None) -> tuple[RuleBlocks, int]:
    """The blocks a rule's pairs are made from and how many pairs they make: all of them, or
    with ``new``, those that hold a new row (``touching``)."""
    return (blocks, blocks.estimated) if new is None else touching(blocks, new)


def touching(blocks: RuleBlocks, new: np.ndarray) -> tuple[RuleBlocks, int]:
    """The blocks that hold a new row (``new``: one flag per row), and how many of their pairs
    hold one: n(n-1)/2 - o(o-1)/2 per block, o its rows not new. Every row keeps its block
    number, so an earlier rule's blocks still tell which pairs it found."""
    if len(blocks.sizes) == 0:
        return blocks, 0
    sizes = blocks.sizes.astype(np.int64)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    fresh = np.add.reduceat(new[blocks.rows].astype(np.int64), starts)
    keep = fresh > 0
    old = sizes - fresh
    pairs = int((sizes * (sizes - 1) // 2 - old * (old - 1) // 2)[keep].sum())
    rows = blocks.rows[np.repeat(keep, sizes)]
    return RuleBlocks(rows, blocks.sizes[keep], blocks.block), pairs


def candidate_pairs(
    std: pl.DataFrame,
    rules: tuple[BlockingRule, ...] = DEFAULT_RULES,
    max_pairs_per_rule: int = 50_000_000,
    max_pairs_per_record: int = 40,
    new: np.ndarray | None = None,
) -> tuple[pl.DataFrame, dict[str, dict[str, int]]]:
    """Distinct pairs (i < j, indices into ``std``'s ``__i``) with the first rule that found them
    (``rule`` = the rule's position in ``rules``). With ``new`` (one flag per row of ``std``),
    only the pairs with at least one new record: linking new records onto records already
    linked among themselves (``link_records(fixed=...)``)."""
    limit = max(max_pairs_per_rule, max_pairs_per_record * std.height)
    present = usable_rules(std, rules)
    stats: dict[str, dict[str, int]] = {}
    # each rule's blocks (valid with every key); its key strings exist only while it is grouped
    # (the rules' blocks made two at a time, on threads: a rule's are its own)
    groups = dict(zip(present, on_threads(lambda rule: _blocks(std, rule), present), strict=True))
    made: dict[BlockingRule, RuleBlocks] = {}  # the blocks this linkage makes pairs from
    for rule in present:
        made[rule], est = to_make(groups[rule], new)
        stats[rule.name] = {"estimated": est}
        if rule.within and est > WITHIN_ABOVE_PER_RECORD * std.height:
            groups[rule] = _blocks(std, rule.narrowed())
            made[rule], est = to_make(groups[rule], new)
            stats[rule.name].update(across=stats[rule.name]["estimated"], estimated=est)
        if est > limit:
            raise ConfigError(
                f"blocking rule '{rule.name}' would create {est:,} candidate pairs, over the "
                f"limit of {limit:,} ({max_pairs_per_record} per record, at least "
                f"{max_pairs_per_rule:,}): the rule is too loose for these records; add a key "
                "to it."
            )
    # a pair is new to rule k when no earlier rule's block holds both records, so no rule's
    # pairs are kept twice
    index = std["__i"].to_numpy()  # row position -> record index (``__i``, increasing)
    seen = EarlierBlocks()
    parts = []
    for order, rule in enumerate(rules):
        if rule not in present:
            continue
        stats[rule.name].update(pairs=0, new=0)
        # made a bounded number at a time: a rule's whole pair set never exists before its
        # pairs found by earlier rules are dropped
        for a, b in rule_pair_chunks(made.pop(rule), new):
            stats[rule.name]["pairs"] += len(a)
            fresh = seen.new_pairs(a, b)  # the pairs an earlier rule found go at once
            a, b = a[fresh], b[fresh]
            stats[rule.name]["new"] += len(a)
            parts.append(
                pl.DataFrame(
                    {
                        "i": index[a].astype(np.uint32),
                        "j": index[b].astype(np.uint32),
                        "rule": np.full(len(a), order, dtype=np.int16),
                    }
                )
            )
            del a, b
        seen.add(groups.pop(rule).block)  # only the block numbers are needed from here
    del groups, made, seen
    if not parts:
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32, "rule": pl.Int16}), stats
    return pl.concat(parts, rechunk=False), stats  # chunks as made: no copy of every pair


def _blocks(std: pl.DataFrame, rule: BlockingRule) -> RuleBlocks:
    return rule_blocks(*group_ids(key_frame(std, (rule,)), rule))


class EarlierBlocks:
    """The block numbers of the rules made so far (one UInt32 array per rule, by row)."""

    def __init__(self) -> None:
        self.numbers: list[np.ndarray] = []

    def add(self, block: np.ndarray) -> None:
        self.numbers.append(block)

    def new_pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Per pair (rows ``a``, ``b``): whether no earlier rule's block holds both: one mask
        over every earlier rule, the pairs copied once (dropping them rule by rule copied the
        pairs once per rule). Each half of the pairs on a thread (numpy's gathers and
        comparisons release the GIL)."""
        half = (len(a) + 1) // 2
        halves = (slice(0, half), slice(half, len(a)))
        return np.concatenate(on_threads(lambda s: self._new(a[s], b[s]), halves))

    def _new(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        fresh = np.ones(len(a), dtype=bool)
        for block in self.numbers:
            fresh &= block[a] != block[b]
        return fresh


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


# pairs made at a time (whole blocks: a larger block is made alone)
PAIR_CHUNK = 4_000_000


def rule_pair_chunks(
    blocks: RuleBlocks, new: np.ndarray | None = None, max_pairs: int = PAIR_CHUNK
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """A rule's pairs (``rule_pairs``, in the same order; with ``new``, only those holding a
    new row), whole blocks at a time, about ``max_pairs`` a time: the memory of making them is
    bounded, not the square of a block set's size."""
    sizes = blocks.sizes.astype(np.int64)
    per_block = sizes * (sizes - 1) // 2
    row_ends = np.cumsum(sizes)
    ends = np.cumsum(per_block)
    start_block, start_row = 0, 0
    while start_block < len(sizes):
        done = int(ends[start_block - 1]) if start_block else 0
        stop = max(int(np.searchsorted(ends, done + max_pairs, side="right")), start_block + 1)
        end_row = int(row_ends[stop - 1])
        part = RuleBlocks(
            blocks.rows[start_row:end_row], blocks.sizes[start_block:stop], blocks.block
        )
        yield rule_pairs(part, new)
        start_block, start_row = stop, end_row


def rule_pairs(blocks: RuleBlocks, new: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The (i, j) row positions (i < j, UInt32; two arrays, one row of each per pair) of every
    two rows in one block: the rule's pairs, grouped by block; with ``new`` (one flag per row),
    only the pairs holding a new row.

    Made directly from the rows sorted by block (each row paired with the rows after it in its
    block), not by a self-join on the group id, which makes every pair twice and each row with
    itself before keeping i < j: half the rows and half the time (scale 1: 0.43 against 0.91 CPU
    seconds for the 4.8M pairs of every rule). With ``new``, each block's new rows go first and
    only they are paired with the rows after them: no pair of two rows not new is made (a
    linkage onto a whole build would otherwise make the build's pairs in every touched block and
    throw them away)."""
    rows, sizes = blocks.rows, blocks.sizes.astype(np.int64)
    ends = np.cumsum(sizes)
    if new is not None:  # within each block (stable): the new rows, then the others
        rows = rows[np.lexsort((~new[rows], np.repeat(np.arange(len(sizes)), sizes)))]
    after = np.repeat(ends, sizes) - np.arange(len(rows)) - 1  # rows after this one in its block
    if new is not None:
        after[~new[rows]] = 0
    n = int(after.sum())
    index = np.uint32 if n < 2**32 else np.int64
    first = np.repeat(np.arange(len(rows), dtype=index), after)
    # the partner: first + 1 + (the pair's place among its first row's pairs)
    partner: np.ndarray = np.arange(n, dtype=index)
    partner -= np.repeat((np.cumsum(after) - after).astype(index), after)
    partner += first
    partner += 1
    a, b = rows[first], rows[partner]
    if new is not None:  # a new row before an earlier old one: i < j again
        return np.minimum(a, b), np.maximum(a, b)
    return a, b


def rule_groups(
    std: pl.DataFrame, rules: tuple[BlockingRule, ...]
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per rule the frame has keys for: every row's group id and whether it has every key
    (``group_ids``), for :func:`near`."""
    present = usable_rules(std, rules)
    keys = key_frame(std, present)
    return [group_ids(keys, rule) for rule in present]


def near(
    groups: list[tuple[np.ndarray, np.ndarray]],
    seeds: np.ndarray,
    hops: int,
    among: np.ndarray | None = None,
) -> np.ndarray:
    """Per row: whether it shares a block (``groups``, from :func:`rule_groups`) with a
    ``seeds`` row, or with such a row, up to ``hops`` steps (the seeds included): the rows a
    linkage of the seeds can reach through at most ``hops`` candidate pairs. Only the rows
    ``among`` (all when None) are reached or carry the reach on."""
    reached = seeds.copy()
    for _ in range(hops):
        grown = reached.copy()
        for gid, valid in groups:
            inside = valid if among is None else valid & among
            grown |= inside & np.isin(gid, gid[reached & inside])
        if grown.sum() == reached.sum():
            break
        reached = grown
    return reached
