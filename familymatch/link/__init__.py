"""Person linkage: deterministic identifier passes, then Fellegi-Sunter, then guarded clustering.

The stages follow recordlinkage's vocabulary (index -> compare -> classify -> evaluate) but run
on polars, rapidfuzz and numpy: see docs/decisions/0001-linkage-engine.md for why and the figures.

``link_records(std)`` returns a :class:`LinkResult`: ``persons`` (record_id, person_id, linkable),
``pairs`` (every scored candidate pair and identifier link, with stage, weight and decision), the
fitted model, and stage timings and counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import polars as pl

from familymatch.link.blocking import DEFAULT_RULES, BlockingRule, candidate_pairs
from familymatch.link.cluster import PersonClusters
from familymatch.link.compare import FIELDS, comparison_levels, pair_frame
from familymatch.link.model import FSModel, estimate_u, fit_em, level_shares, term_frequencies
from familymatch.logs import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class LinkConfig:
    """Linkage settings (all optional; the defaults are the measured ones)."""

    rules: tuple[BlockingRule, ...] = DEFAULT_RULES
    max_pairs_per_rule: int = 50_000_000
    threshold: float = 0.5  # match probability at or above which a pair is linked
    u_sample_pairs: int = 1_000_000
    seed: int = 42
    identifier_columns: tuple[str, ...] = ("nino_std", "upn_std")
    # the household rules: twins and father/son kept apart, a person's dates of birth and
    # forenames must stay close. Off only for data sets that are not about households (FEBRL
    # replaces whole forenames in its duplicates, which is exactly the twins pattern).
    household_guards: bool = True
    compare_chunk: int = 2_000_000  # candidate pairs compared at a time (bounds peak memory)
    keep_pairs_above: float = 0.001  # scored pairs kept in the result below a link


@dataclass
class LinkResult:
    persons: pl.DataFrame
    pairs: pl.DataFrame
    model: FSModel
    stats: dict[str, object] = field(default_factory=dict)


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


def random_pair_levels(std: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
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
    return comparison_levels(pair_frame(std, pairs))


def fit_model(
    std: pl.DataFrame, levels: pl.DataFrame, id_edges: pl.DataFrame, config: LinkConfig
) -> FSModel:
    n_random = min(config.u_sample_pairs, max(50_000, std.height * 20))
    u = estimate_u(random_pair_levels(std, n_random, config.seed))
    m_start = None
    if id_edges.height >= 100:
        id_pairs = id_edges.select("i", "j", pl.lit(-2).alias("rule"))
        m_start = level_shares(comparison_levels(pair_frame(std, id_pairs)))
    model = fit_em(levels, u, m_start=m_start)
    key = ["sn", "fn_canon", "dob"]
    model.tf = {
        "sn": term_frequencies(std, "sn", key),
        "fn": term_frequencies(std, "fn", ["fn", "sn", "dob"]),
    }
    return model


def link_records(
    std: pl.DataFrame, config: LinkConfig | None = None, model: FSModel | None = None
) -> LinkResult:
    """Link standardised records into persons."""
    config = config or LinkConfig()
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    std = std.with_row_index("__i").with_columns(linkable_expr().alias("linkable"))
    usable = std.filter(pl.col("linkable"))

    t = time.perf_counter()
    id_edges = identifier_edges(usable, config.identifier_columns)
    cand, block_stats = candidate_pairs(usable, config.rules, config.max_pairs_per_rule)
    seconds["block"] = time.perf_counter() - t

    t = time.perf_counter()
    # compared in chunks: only the small level columns of every pair are kept in memory
    chunk = config.compare_chunk
    levels = pl.concat(
        [
            comparison_levels(pair_frame(usable, cand.slice(o, chunk)))
            for o in range(0, max(cand.height, 1), chunk)
        ]
    )
    seconds["compare"] = time.perf_counter() - t

    t = time.perf_counter()
    fitted = model or fit_model(usable, levels, id_edges, config)
    seconds["fit"] = time.perf_counter() - t

    t = time.perf_counter()
    scored = fitted.score(levels)
    # people sharing a home: same date of birth and surname but another forename (twins), or one
    # name a generation apart (father and son)
    at_home = (pl.col("loc") >= 4) & pl.lit(config.household_guards)
    twins = at_home & (pl.col("dob") == 4) & (pl.col("sn") >= 3) & (pl.col("fn") == 0)
    father_son = (
        at_home & (pl.col("fn") >= 3) & (pl.col("sn") >= 3) & (pl.col("dob_year_gap") >= 12)
    )
    surname_differs = (pl.col("sn") == 0) & ~((pl.col("dob") >= 3) & (pl.col("loc") >= 2))
    forename_differs = (pl.col("fn") == 0) & (pl.col("dob") < 3)
    # without a shared place, only an exact (or transposed) date of birth can confirm a person:
    # common names with a near date of birth are different people in a city-sized population
    unanchored = (pl.col("loc") <= 1) & (pl.col("dob") < 3)
    scored = scored.with_columns(
        pl.when(twins)
        .then(pl.lit("rule:twins"))
        .when(father_son)
        .then(pl.lit("rule:different_generation"))
        .when(surname_differs)
        .then(pl.lit("rule:surname_differs"))
        .when(forename_differs)
        .then(pl.lit("rule:forename_differs"))
        .when(unanchored)
        .then(pl.lit("rule:no_place_no_exact_dob"))
        .otherwise(pl.lit("fs"))
        .alias("stage"),
    ).with_columns(
        ((pl.col("match_probability") >= config.threshold) & (pl.col("stage") == "fs")).alias(
            "linked"
        )
    )
    # keep the pairs worth explaining (links, rule decisions, any real chance of matching);
    # the clear non-matches - most candidate pairs at city scale - are dropped here
    scored = scored.filter(
        pl.col("linked")
        | (pl.col("stage") != "fs")
        | (pl.col("match_probability") >= config.keep_pairs_above)
    ).drop("sn_value", "fn_value")
    del levels
    seconds["predict"] = time.perf_counter() - t

    t = time.perf_counter()
    n = std.height
    clusters = PersonClusters(
        std["fn_canon"].to_list(),
        std["sn"].to_list(),
        std["dob"].to_list(),
        std["nino_std"].to_list(),
        std["upn_std"].to_list(),
    )
    for i, j in id_edges.select("i", "j").iter_rows():
        clusters.union(i, j, check_people=False)
    links = scored.filter(pl.col("linked")).sort("match_weight", descending=True)
    refused = 0
    for i, j in links.select("i", "j").iter_rows():
        if not clusters.union(i, j, check_people=config.household_guards):
            refused += 1
    roots = np.asarray(clusters.roots())
    seconds["cluster"] = time.perf_counter() - t

    record_ids = std["record_id"]
    root_frame = pl.DataFrame({"record_id": record_ids, "root": roots, "linkable": std["linkable"]})
    first = root_frame.group_by("root").agg(pl.col("record_id").min().alias("first"))
    order = first.sort("first").with_row_index("rank", offset=1)
    persons = (
        root_frame.join(order, on="root")
        .with_columns(
            pl.format("P{}", pl.col("rank").cast(pl.String).str.zfill(7)).alias("person_id")
        )
        .select("record_id", "person_id", "linkable")
    )
    sizes = persons.group_by("person_id").len()
    refused_by_root = pl.DataFrame({"root": np.arange(n), "refused": clusters.refused})
    suspicious = (
        root_frame.join(order, on="root")
        .join(refused_by_root, on="root")
        .group_by("rank")
        .agg(pl.len().alias("size"), pl.col("refused").first())
        .filter((pl.col("size") > 25) | (pl.col("refused") > 0))
        .height
    )
    ids = std.select("__i", "record_id")
    pairs = (
        scored.join(ids.rename({"__i": "i", "record_id": "record_id_l"}), on="i")
        .join(ids.rename({"__i": "j", "record_id": "record_id_r"}), on="j")
        .select(
            "record_id_l",
            "record_id_r",
            "stage",
            "match_weight",
            "match_probability",
            "linked",
            *FIELDS,
            *[f"w_{f}" for f in FIELDS],
        )
    )
    id_pairs = (
        id_edges.join(ids.rename({"__i": "i", "record_id": "record_id_l"}), on="i")
        .join(ids.rename({"__i": "j", "record_id": "record_id_r"}), on="j")
        .select("record_id_l", "record_id_r", "stage", pl.lit(True).alias("linked"))
    )
    pairs = pl.concat([id_pairs, pairs], how="diagonal_relaxed")
    seconds["total"] = time.perf_counter() - t0
    stats: dict[str, object] = {
        "records": n,
        "unlinkable": int((~std["linkable"]).sum()),
        "identifier_links": id_edges.height,
        "candidate_pairs": cand.height,
        "blocking": block_stats,
        "fs_links": links.height,
        "refused_merges": refused,
        "persons": sizes.height,
        "suspicious_clusters": suspicious,
        "seconds": seconds,
    }
    log.info(
        "link: %d records -> %d persons (%d candidate pairs, %d links, %d merges refused)",
        n,
        sizes.height,
        cand.height,
        links.height,
        refused,
    )
    return LinkResult(persons=persons, pairs=pairs, model=fitted, stats=stats)


__all__ = ["FSModel", "LinkConfig", "LinkResult", "link_records"]
