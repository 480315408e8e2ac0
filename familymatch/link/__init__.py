"""Person linkage: deterministic identifier passes, then Fellegi-Sunter, then guarded clustering.

The stages follow recordlinkage's vocabulary (index -> compare -> classify -> evaluate) but run
on polars, rapidfuzz and numpy: see docs/decisions/0001-linkage-engine.md for why and the figures.

``link_records(std)`` returns a :class:`LinkResult`: ``persons`` (record_id, person_id, linkable),
``pairs`` (every scored candidate pair and identifier link, with stage, weight and decision), the
fitted model, and stage timings and counts.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass, field, replace

import numpy as np
import polars as pl

from familymatch.link.blocking import DEFAULT_RULES, BlockingRule, candidate_pairs
from familymatch.link.cluster import GUARD_READS, PersonClusters, components, guard_people
from familymatch.link.compare import (
    COMPARE_COLUMNS,
    EXTRA_COLUMNS,
    FIELDS,
    TF_COLUMNS,
    Vocabulary,
    comparison_levels,
    pair_frame,
    street_expr,
    string_codes,
)
from familymatch.link.distinct import DistinctComparer
from familymatch.link.model import (
    TF_SOURCE_COLUMNS,
    FSModel,
    attach_term_frequencies,
    estimate_u,
    fit_em,
    level_shares,
    term_frequencies,
    with_location_key,
)
from familymatch.link.pair_rules import (
    DEFAULT_PAIR_RULES,
    PairRule,
    levels_rule_met,
    rule_stage,
)
from familymatch.link.patterns import (
    N_PATTERNS,
    PATTERN_DTYPE,
    PatternScorer,
    decode,
    levels_of_patterns,
    pattern_counts,
    record_frequencies,
)
from familymatch.link.threads import on_threads, per_thread
from familymatch.logs import get_logger
from familymatch.memory import release_free_memory
from familymatch.standardise import per_value

log = get_logger(__name__)


@dataclass(frozen=True)
class LinkConfig:
    """Linkage settings (all optional; the defaults are the measured ones)."""

    rules: tuple[BlockingRule, ...] = DEFAULT_RULES
    pair_rules: tuple[PairRule, ...] = DEFAULT_PAIR_RULES
    max_pairs_per_rule: int = 50_000_000  # a blocking rule's ceiling of candidate pairs ...
    max_pairs_per_record: int = 40  # ... raised to this many per record for large populations
    threshold: float = 0.5  # match probability at or above which a pair is linked
    u_sample_pairs: int = 1_000_000
    seed: int = 42
    # deterministic passes, in order: a shared NINO, a shared UPN, one source row and person
    # slot (the periods of a wide row: ``same_row``)
    identifier_columns: tuple[str, ...] = ("nino_std", "upn_std", "same_row")
    # the household rules: twins and father/son kept apart, a person's dates of birth and
    # forenames must stay close. Off only for data sets that are not about households (FEBRL
    # replaces whole forenames in its duplicates, which is exactly the twins pattern).
    household_guards: bool = True
    # "sessions" (m from EM among same-dob pairs and among same-name pairs, then lambda) or
    # "single" (one EM over all candidate pairs)
    training: str = "sessions"
    compare_chunk: int = 500_000  # candidate pairs compared at a time (bounds peak memory)
    # pairs compared directly, every compared column gathered for each pair (the u sample, the
    # identifier pairs): ~600-800 bytes a pair while compared, so fewer at a time (scale 1: the
    # u sample's 500,000-pair chunks were the build's peak, +310 MB; 100,000 cost 1.4 CPU s
    # more in the fit, each chunk having a fixed cost)
    direct_chunk: int = 250_000
    keep_pairs_above: float = 0.001  # scored pairs kept in the result below a link


@dataclass
class LinkResult:
    persons: pl.DataFrame
    pairs: pl.DataFrame
    model: FSModel
    stats: dict[str, object] = field(default_factory=dict)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


class StageClock:
    """Per stage: wall seconds, CPU seconds of the process (all threads: on a busy machine the
    steadier figure) and the process's peak resident memory at the stage's end."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.start()

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def stop(self, stage: str) -> None:
        release_free_memory()  # the sub-stage's freed arrays are not held through the next
        self.seconds[stage] = time.perf_counter() - self._wall
        self.cpu[stage] = round(time.process_time() - self._cpu, 3)
        self.peak_mb[stage] = _peak_rss_mb()


def linkable_expr() -> pl.Expr:
    """Enough to link on: a name, and a date of birth or an address/postcode or an identifier."""
    has_name = pl.col("fn").is_not_null() | pl.col("sn").is_not_null()
    has_anchor = (
        pl.col("dob").is_not_null()
        | pl.col("addr").is_not_null()
        | pl.col("pc").is_not_null()
        | pl.col("nino_std").is_not_null()
        | pl.col("upn_std").is_not_null()
    )
    return has_name & has_anchor


def same_row_expr() -> pl.Expr:
    """One source row and person slot: the record id up to its row number, plus the role.
    Only the periods of a wide row share it (``src:7:aut`` and ``src:7:spr``; with people
    ``src:7:child:aut`` and ``src:7:child:spr``); every other record's key is its own. The
    record id, not (source, row), keeps two files of one source apart (outcomes prefixes the
    build's ids); null without a row number."""
    row_part = pl.col("record_id").str.extract(r"^(.*?:\d+)(?::|$)")
    # a record id without a row number (a harness data set's "rec-1-org") has no key: the
    # empty string would make every such record one person
    return (
        pl.when(row_part.is_not_null())
        .then(pl.concat_str([row_part, pl.col("role")], separator=":", ignore_nulls=True))
        .alias("same_row")
    )


def link_keys() -> list[pl.Expr]:
    """The keys :func:`link_records` adds to every record before blocking: the street (the
    address without numbers, once per record for the comparisons; its regular expressions run
    once per distinct address: synth_1m 0.95-1.03 -> 0.47-0.57 CPU s, 190,525 addresses in 1M records) and
    the source row."""
    street = per_value("addr", street_expr, pl.String())
    return [street.alias("addr_street"), same_row_expr().alias("same_row")]


def _linkage_names(config: LinkConfig) -> set[str]:
    return {
        "__i",
        *COMPARE_COLUMNS,
        *TF_SOURCE_COLUMNS.values(),
        "fn_canon",
        "addr_street",
        "address_id",
        *config.identifier_columns,
        *(k for r in config.rules for k in r.keys),
        *(r.within for r in config.rules if r.within),
    }


def linkage_columns(std: pl.DataFrame, config: LinkConfig) -> list[str]:
    """The columns linkage reads (compared, blocked on, identifiers, name frequencies): the
    linkable records are copied with these only."""
    wanted = _linkage_names(config)
    return [c for c in dict.fromkeys((*std.columns, "addr_street", "same_row")) if c in wanted]


# what ``linkable_expr`` and ``link_keys`` read, and the record id the persons are named by
_DERIVED_FROM = ("record_id", "role", "fn", "sn", "dob", "addr", "pc", "nino_std", "upn_std")


def input_columns(columns: list[str], config: LinkConfig | None = None) -> list[str]:
    """The columns of ``columns`` (a standardised frame's) that :func:`link_records` reads: the
    linkage's own, those ``linkable`` and the added keys derive from, and the clustering
    guard's. A caller may pass only these (the build does: the claim addresses' columns the
    stage does not read are then not held through it)."""
    wanted = {*_linkage_names(config or LinkConfig()), *_DERIVED_FROM, *GUARD_READS}
    return [c for c in columns if c in wanted]


def identifier_edges(std: pl.DataFrame, columns: tuple[str, ...]) -> pl.DataFrame:
    """i, j, stage: each record with an identifier joined to the first record sharing it."""
    parts = []
    for col in columns:
        g = std.select("__i", col).drop_nulls(col)
        first = g.group_by(col).agg(pl.col("__i").min().alias("j"))
        parts.append(
            g.join(first, on=col)
            .filter(pl.col("__i") != pl.col("j"))
            .select(
                pl.col("__i").alias("i"),
                pl.col("j"),
                pl.lit(col.removesuffix("_std")).alias("stage"),
            )
        )
    if not parts:
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32, "stage": pl.String})
    return pl.concat(parts)


def random_pair_levels(
    std: pl.DataFrame, n: int, seed: int, chunk: int, vocab: Vocabulary | None = None
) -> pl.DataFrame:
    """The level columns of ``n`` random record pairs (compared ``chunk`` pairs at a time)."""
    rng = np.random.default_rng(seed)
    idx = std["__i"].to_numpy()
    if len(idx) < 2:
        return pl.DataFrame({f: pl.Series([], dtype=pl.Int8) for f in FIELDS})
    a = rng.choice(idx, n)
    b = rng.choice(idx, n)
    keep = a != b
    pairs = pl.DataFrame(
        {"i": a[keep], "j": b[keep], "rule": np.full(int(keep.sum()), -1, dtype=np.int32)}
    ).with_columns(pl.col("i").cast(pl.UInt32), pl.col("j").cast(pl.UInt32))
    return field_levels(std, pairs, chunk, vocab)


def field_levels(
    std: pl.DataFrame, pairs: pl.DataFrame, chunk: int, vocab: Vocabulary | None = None
) -> pl.DataFrame:
    """The level columns of the pairs, compared ``chunk`` pairs at a time: half as many on each
    of two threads (``on_threads``), so that two hold what one did."""
    step = per_thread(chunk)
    return pl.concat(
        on_threads(
            lambda o: comparison_levels(
                pair_frame(std, pairs.slice(o, step)), vocab, tuple(FIELDS)
            ),
            range(0, max(pairs.height, 1), step),
        )
    )


def compare_patterns(
    usable: pl.DataFrame, cand: pl.DataFrame, chunk: int, vocab: Vocabulary | None = None
) -> np.ndarray:
    """The comparison pattern code of every candidate pair, compared ``chunk`` pairs at a time,
    each field group on its distinct value pairs (``distinct.DistinctComparer``) unless that
    disagrees with ``comparison_levels`` on an evenly spread sample of the pairs."""
    out = np.empty(cand.height, dtype=PATTERN_DTYPE)
    comparer = DistinctComparer(usable, vocab)
    sample = np.unique(np.linspace(0, max(cand.height - 1, 0), 4096).astype(np.int64))
    grouped = cand.height > 0 and comparer.check(cand.gather(sample))
    if cand.height and not grouped:
        log.warning("link: levels by distinct value pairs differ; comparing pair by pair")
    # two chunks at a time, one a thread: a chunk's numpy and Python parts (one core) overlap
    # the other's polars and rapidfuzz parts; each chunk's codes are its own, so the order in
    # which they finish changes nothing (decision 0016, session 6)
    compare = comparer.codes if grouped else comparer.direct
    starts = range(0, cand.height, chunk)
    chunks = on_threads(lambda o: compare(cand.slice(o, chunk)), starts)
    for o, codes in zip(starts, chunks, strict=True):
        out[o : o + len(codes)] = codes
    return out


def likely_pairs(
    model: FSModel,
    usable: pl.DataFrame,
    cand: pl.DataFrame,
    codes: np.ndarray,
    config: LinkConfig,
) -> tuple[pl.DataFrame, np.ndarray]:
    """The candidate pairs (sorted by i, j) and their pattern codes that ``score_pairs`` may
    keep: a weight by pattern and name frequency that reaches the lower of the threshold and
    ``keep_pairs_above``, and not, below the threshold, a pattern that meets a pair rule reading
    only the levels (a pair a rule keeps from the probabilistic stage is kept only at the
    threshold). Both with a margin for float rounding: the exact scoring decides. Sorted, each
    chunk's records are gathered in order when it is scored."""
    floor = _log2_odds(min(config.threshold, config.keep_pairs_above)) - 0.01
    link = _log2_odds(config.threshold) - 0.01
    ruled = levels_rule_met(
        config.pair_rules, config.household_guards, decode(np.arange(N_PATTERNS))
    )
    record_tf = record_frequencies(usable)
    scorer = PatternScorer(model)
    keep = np.zeros(cand.height, dtype=bool)
    step = config.compare_chunk * 8
    for o in range(0, cand.height, step):
        first = cand["i"].slice(o, step).to_numpy()
        part = codes[o : o + step]
        weight = scorer.weights(part, first, record_tf)
        keep[o : o + step] = (weight >= floor) & ~(ruled[part] & (weight < link))
    likely = cand.filter(pl.Series(keep)).with_columns(pl.Series("pattern", codes[keep]))
    likely = likely.sort("i", "j")
    return likely.drop("pattern"), likely["pattern"].to_numpy()


def _log2_odds(probability: float) -> float:
    return math.log2(probability / (1 - probability))


def score_pairs(
    model: FSModel,
    usable: pl.DataFrame,
    likely: pl.DataFrame,
    codes: np.ndarray,
    config: LinkConfig,
) -> pl.DataFrame:
    """The likely pairs scored exactly, half ``config.compare_chunk`` at a time, keeping the links,
    the pairs a rule kept apart although the model would have linked them, and probabilistic
    near-misses (probability >= keep_pairs_above), in the likely pairs' order. Only two
    chunks' levels exist at a time (``on_threads``): a chunk's levels come back from its
    pattern codes and its records."""
    chunk = per_thread(config.compare_chunk)  # two at a time: the memory of one
    stage = rule_stage(config.pair_rules, config.household_guards)
    # the evidence chance alone produces for some pair in a population of this size
    log2_records = math.log2(max(usable.height, 2))
    # only what ``pair_extras`` reads is gathered for each pair (not the streets, entities and
    # string codes ``pair_frame`` adds when the records carry them)
    reads = usable.select("__i", *EXTRA_COLUMNS, *(c for c in TF_COLUMNS if c in usable.columns))

    def scored(o: int) -> pl.DataFrame:
        levels = levels_of_patterns(
            pair_frame(reads, likely.slice(o, chunk), EXTRA_COLUMNS), codes[o : o + chunk]
        )
        return (
            model.score(levels)
            .with_columns(pl.lit(log2_records).alias("log2_records"))
            .with_columns(stage.alias("stage"))
            .with_columns(
                (
                    (pl.col("match_probability") >= config.threshold) & (pl.col("stage") == "fs")
                ).alias("linked")
            )
            .filter(
                pl.col("linked")
                | (pl.col("match_probability") >= config.threshold)
                | (
                    (pl.col("stage") == "fs")
                    & (pl.col("match_probability") >= config.keep_pairs_above)
                )
            )
            .drop("sn_tf", "fn_tf", "loc_tf", "log2_records", *[f"w_{f}" for f in FIELDS])
        )

    return pl.concat(on_threads(scored, range(0, max(likely.height, 1), chunk)))


def name_frequencies(std: pl.DataFrame) -> dict[str, dict[str, float]]:
    """Surname and forename frequencies among distinct people (approximated by distinct
    name + date of birth), so that one person's many records do not make a name common."""
    return {
        "sn": term_frequencies(std, "sn", ["sn", "fn_canon", "dob"]),
        "fn": term_frequencies(std, "fn", ["fn", "sn", "dob"]),
    }


# more distinct people than a home holds: a block of flats, a hostel, a care home, an office used
# as a placeholder. A home's people (and a person's variants, counted apart by name + date of
# birth) never weaken their address
CROWDED_PLACE = 12


def location_frequencies(std: pl.DataFrame) -> dict[str, float]:
    """The share of distinct people (name + date of birth) at each crowded place (``loc_key``,
    more than ``CROWDED_PLACE`` people): counted on every build, since places are this build's
    address entities."""
    distinct = std.select("loc_key", "fn_canon", "sn", "dob").drop_nulls("loc_key").unique()
    total = max(distinct.height, 1)
    crowded = distinct.group_by("loc_key").len().filter(pl.col("len") > CROWDED_PLACE)
    return dict(zip(crowded["loc_key"].to_list(), (crowded["len"] / total).to_list(), strict=True))


def fit_model(
    std: pl.DataFrame,
    levels: pl.DataFrame,
    id_edges: pl.DataFrame,
    config: LinkConfig,
    tf: dict[str, dict[str, float]],
    vocab: Vocabulary | None = None,
) -> FSModel:
    n_random = min(config.u_sample_pairs, max(50_000, std.height * 20))
    u = estimate_u(random_pair_levels(std, n_random, config.seed, config.direct_chunk, vocab))
    m_start = None
    # the periods of one row are copies of one person's fields: they would teach m nothing
    id_edges = id_edges.filter(pl.col("stage") != "same_row")
    if id_edges.height >= 100:
        id_pairs = id_edges.select("i", "j", pl.lit(-2).alias("rule"))
        m_start = level_shares(field_levels(std, id_pairs, config.direct_chunk, vocab))
    if config.training == "sessions":
        model = fit_sessions(levels, u, m_start)
    else:
        model = fit_em(levels, u, m_start=m_start)
    model.tf = tf
    return model


def n_pairs(levels: pl.DataFrame) -> int:
    """Pairs in a levels frame (one row a pair) or in pattern counts (their ``n``)."""
    return int(levels["n"].sum()) if "n" in levels.columns else levels.height


def fit_sessions(
    levels: pl.DataFrame, u: dict[str, list[float]], m_start: dict[str, list[float]] | None
) -> FSModel:
    """m in two EM sessions, as Splink trains: among pairs with the same date of birth (m of the
    names, place, sex and middle name), and among pairs whose names agree (m of the date of
    birth); then lambda by EM with every m held. One EM over all candidate pairs can settle on
    "lives at the same address" as its match class: the sessions keep the household apart.
    Falls back to one EM when a session has fewer than 100 pairs."""
    by_dob = levels.filter(pl.col("dob") == 4)
    by_name = levels.filter((pl.col("fn") >= 3) & (pl.col("sn") >= 3))
    if n_pairs(by_dob) < 100 or n_pairs(by_name) < 100:
        return fit_em(levels, u, m_start=m_start)
    a = fit_em(by_dob, u, m_start=m_start, fields=[f for f in FIELDS if f != "dob"])
    b = fit_em(by_name, u, m_start=m_start, fields=[f for f in FIELDS if f not in ("fn", "sn")])
    m = {**a.m, "dob": b.m["dob"]}
    final = fit_em(levels, u, m_start=m, fixed_m=frozenset(FIELDS))
    final.iterations = a.iterations + b.iterations + final.iterations
    return final


def held_index(std: pl.DataFrame, fixed: pl.DataFrame) -> np.ndarray:
    """Per record of ``std`` (by ``__i``): the index of the first record of its person held
    fixed (``fixed``: record_id, person_id), -1 for a record not among them."""
    given = std.select("__i", "record_id").join(
        fixed.select("record_id", "person_id"), on="record_id"
    )
    first = given.group_by("person_id").agg(pl.col("__i").min().alias("first"))
    given = given.join(first, on="person_id")
    out = np.full(std.height, -1, dtype=np.int64)
    out[given["__i"].to_numpy()] = given["first"].to_numpy()
    return out


def held_edges(held: np.ndarray | None) -> pl.DataFrame:
    """i, j: each record of a person held fixed to the person's first record."""
    if held is None:
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32})
    i = np.flatnonzero((held >= 0) & (held != np.arange(len(held))))
    return pl.DataFrame({"i": i.astype(np.uint32), "j": held[i].astype(np.uint32)})


def edge_list(edges: pl.DataFrame) -> zip[tuple[int, int]]:
    """The edges' (i, j) as Python ints, in order (two lists zipped: a third of the cost of
    iterating the frame's rows)."""
    return zip(edges["i"].to_list(), edges["j"].to_list(), strict=True)


def cluster_records(
    std: pl.DataFrame,
    id_edges: pl.DataFrame,
    links: pl.DataFrame,
    household_guards: bool,
    held: np.ndarray | None = None,
) -> tuple[np.ndarray, int, dict[int, int]]:
    """Every record's root (its person), the merges refused and the refusals per root: the
    persons held fixed (``held``, from :func:`held_index`) merged first, then the identifier
    edges, then the links strongest first, through the guarded union-find.

    A component whose records are one identity (names and date of birth) with at most one NINO,
    one UPN and one person held fixed merges whatever the order (no guard can refuse), as does
    one holding no record outside the persons held fixed; only the others go through the
    union-find, their edges in the same order (components never interact)."""
    n = std.height
    fixed = held_edges(held)
    edges = pl.concat([fixed, id_edges.select("i", "j"), links.select("i", "j")])
    label = components(n, edges["i"].to_numpy(), edges["j"].to_numpy())
    involved = std.select("__i", *GUARD_READS).join(
        edges.unpivot().select(pl.col("value").cast(pl.UInt32).alias("__i")).unique(),
        on="__i",
    )
    at = involved["__i"].to_numpy()
    involved = involved.with_columns(
        pl.Series("label", label[at]),
        pl.Series("held", np.full(len(at), -1) if held is None else held[at]),
    )
    guarded = (
        involved.group_by("label")
        .agg(
            (
                (
                    (pl.struct("fn", "fn_canon", "sn", "dob").n_unique() > 1)
                    | (pl.col("nino_std").drop_nulls().n_unique() > 1)
                    | (pl.col("upn_std").drop_nulls().n_unique() > 1)
                    | (pl.col("held").filter(pl.col("held") >= 0).n_unique() > 1)
                )
                & (pl.col("held") < 0).any()
            ).alias("guarded")
        )
        .filter(pl.col("guarded"))["label"]
        .to_numpy()
    )
    in_guarded = lambda e: pl.Series(np.isin(label[e["i"].to_numpy()], guarded))  # noqa: E731
    guarded_records = involved.filter(in_guarded(involved.rename({"__i": "i"})))
    clusters = PersonClusters(
        n,
        guard_people(guarded_records),
        dict(guarded_records.filter(pl.col("held") >= 0).select("__i", "held").iter_rows()),
    )
    for i, j in edge_list(fixed.filter(in_guarded(fixed))):
        clusters.union(i, j, force=True)
    for i, j in edge_list(id_edges.filter(in_guarded(id_edges))):
        clusters.union(i, j, check_people=False)
    refused = 0
    for i, j in edge_list(links.filter(in_guarded(links))):
        if not clusters.union(i, j, check_people=household_guards):
            refused += 1
    roots = clusters.roots()
    merged = ~np.isin(label, guarded)
    roots[merged] = label[merged]
    return roots, refused, clusters.refused_by_root()


def block(
    usable: pl.DataFrame, config: LinkConfig, held: np.ndarray | None
) -> tuple[pl.DataFrame, pl.DataFrame, dict[str, dict[str, int]]]:
    """The identifier edges and the candidate pairs (with the blocking figures); with persons
    held fixed, only those with a record outside them."""
    id_edges = identifier_edges(usable, config.identifier_columns)
    limits = config.max_pairs_per_rule, config.max_pairs_per_record
    if held is None:
        return id_edges, *candidate_pairs(usable, config.rules, *limits)
    free = held < 0
    id_edges = id_edges.filter(
        pl.Series(free[id_edges["i"].to_numpy()] | free[id_edges["j"].to_numpy()])
    )
    new = free[usable["__i"].to_numpy()]
    return id_edges, *candidate_pairs(usable, config.rules, *limits, new)


def named_by_record(record_ids: pl.Series, pairs: pl.DataFrame) -> list[pl.Series]:
    """record_id_l, record_id_r of pairs of row numbers (i, j) into the records."""
    return [
        record_ids.gather(pairs[side]).alias(f"record_id_{end}")
        for side, end in (("i", "l"), ("j", "r"))
    ]


def link_records(
    std: pl.DataFrame,
    config: LinkConfig | None = None,
    model: FSModel | None = None,
    fixed: pl.DataFrame | None = None,
) -> LinkResult:
    """Link standardised records into persons.

    ``fixed`` (record_id, person_id; with the ``model`` that linked them): records already
    linked, their persons held. Only the pairs with a record outside them are blocked, compared
    and scored (link only: never two records of ``fixed``); each person of ``fixed`` is merged
    in advance, and the other records join one of them or form persons among themselves through
    the same guard and pair rules. ``pairs`` then holds those pairs only."""
    config = config or LinkConfig()
    if fixed is not None and model is None:
        raise ValueError("persons held fixed are linked onto with the model that linked them")
    clock = StageClock()
    std = std.with_row_index("__i").with_columns(linkable_expr().alias("linkable"))
    held = None if fixed is None else held_index(std, fixed)
    # the filter copies only the columns linkage reads (and those the two above derive from),
    # never the whole frame
    wanted = {*linkage_columns(std, config), "linkable", "addr", "record_id", "role"}
    usable = (
        std.select(c for c in std.columns if c in wanted)
        .filter(pl.col("linkable"))
        .with_columns(link_keys())
        .select(linkage_columns(std, config))
    )
    # from here on std is read only for clustering's guards and the output: its other columns
    # (the claim addresses the build passes; scale 10 ~300 MB) go now if the caller passed a
    # temporary
    std = std.select("__i", "record_id", "linkable", *(c for c in GUARD_READS if c in std.columns))

    clock.start()
    id_edges, cand, block_stats = block(usable, config, held)
    clock.stop("block")

    clock.start()
    chunk = config.compare_chunk
    usable = with_location_key(usable)
    # names from the model when one is reused; places are always this build's
    names: dict[str, dict[str, float]] = (
        {f: model.tf[f] for f in ("sn", "fn") if f in model.tf} if model else {}
    )
    tf = {**(names or name_frequencies(usable)), "loc": location_frequencies(usable)}
    floor = model.tf_floor if model is not None else 1e-5
    usable = attach_term_frequencies(usable, tf, floor)
    usable, vocab = string_codes(usable)
    # compared in chunks: only each pair's pattern code is kept beside (i, j)
    codes = compare_patterns(usable, cand, chunk, vocab)
    n_candidates = cand.height
    clock.stop("compare")

    clock.start()
    fitted = model or fit_model(
        usable, pattern_counts(pl.Series(codes)), id_edges, config, tf, vocab
    )
    del vocab  # nothing after the fit compares strings: its values and counts go now
    # the model keeps the places that weaken agreement (the others score as the level does); a
    # model passed in is copied, not changed: its caller's places are another build's
    places = {k: v for k, v in tf["loc"].items() if v > fitted.floor_of("loc")}
    fitted = replace(fitted, tf={**tf, "loc": places})
    clock.stop("fit")

    clock.start()
    # the clear non-matches go by their pattern's weight; the rest get their levels back from
    # their pattern (and the per-pair columns from their records) and are scored exactly
    likely, likely_codes = likely_pairs(fitted, usable, cand, codes, config)
    del cand, codes
    scored = score_pairs(fitted, usable, likely, likely_codes, config)
    del likely, likely_codes, usable  # clustering reads std's guard columns, not these
    clock.stop("predict")

    clock.start()
    n = std.height
    links = scored.filter(pl.col("linked")).sort("match_weight", descending=True)
    roots, refused, refused_map = cluster_records(
        std, id_edges, links, config.household_guards, held
    )
    clock.stop("cluster")

    record_ids = std["record_id"]
    root_frame = pl.DataFrame({"record_id": record_ids, "root": roots, "linkable": std["linkable"]})
    first = root_frame.group_by("root").agg(
        pl.col("record_id").min().alias("first"), pl.len().alias("size")
    )
    order = first.sort("first").with_row_index("rank", offset=1)
    persons = (
        root_frame.join(order, on="root")
        .with_columns(
            pl.format("P{}", pl.col("rank").cast(pl.String).str.zfill(7)).alias("person_id")
        )
        .select("record_id", "person_id", "linkable")
    )
    refused_by_root = pl.DataFrame(
        {"root": list(refused_map), "refused": list(refused_map.values())},
        schema={"root": pl.Int64, "refused": pl.Int64},
    )
    # a person's size and refusals from its root (one row a person, not a record)
    suspicious = (
        order.join(refused_by_root, on="root", how="left")
        .with_columns(pl.col("refused").fill_null(0))
        .filter((pl.col("size") > 25) | (pl.col("refused") > 0))
        .height
    )
    # a pair's record ids taken by position (``__i`` is std's row number): no join copying the
    # scored pairs' columns twice
    pairs = scored.select(
        *named_by_record(record_ids, scored),
        "stage",
        "match_weight",
        "match_probability",
        "linked",
        *FIELDS,
    )
    id_pairs = id_edges.select(
        *named_by_record(record_ids, id_edges), "stage", pl.lit(True).alias("linked")
    )
    pairs = pl.concat([id_pairs, pairs], how="diagonal_relaxed")
    clock.peak_mb["output"] = _peak_rss_mb()
    clock.seconds["total"] = time.perf_counter() - clock.t0
    stats: dict[str, object] = {
        "records": n,
        "unlinkable": int((~std["linkable"]).sum()),
        "identifier_links": id_edges.height,
        "candidate_pairs": n_candidates,
        "blocking": block_stats,
        "fs_links": links.height,
        "pairs_kept": pairs.height,
        "refused_merges": refused,
        "persons": order.height,
        "suspicious_clusters": suspicious,
        "seconds": clock.seconds,
        "cpu_seconds": clock.cpu,
        "peak_rss_mb": clock.peak_mb,
    }
    log.info(
        "link: %d records -> %d persons (%d candidate pairs, %d links, %d merges refused)",
        n,
        order.height,
        n_candidates,
        links.height,
        refused,
    )
    return LinkResult(persons=persons, pairs=pairs, model=fitted, stats=stats)


__all__ = ["FSModel", "LinkConfig", "LinkResult", "PairRule", "link_records"]
