"""Out-of-core person linkage: DuckDB holds the data on disk, the engine's own code judges pairs.

Same blocking rules, comparison levels, model, pair rules and clustering guards as
``familymatch.link.link_records``; only the execution differs, so that peak memory stays bounded
while the records grow (figures in docs/decisions/0017-past-one-machine.md):

1. stage: records arrive in batches; each is standardised, given its global row index ``__i``,
   its blocking keys (``blocking.key_frame``) and street, and written to Parquet.
2. load: DuckDB (a database file in the work folder with ``memory_limit`` set, spilling to disk)
   reads the parts; name frequencies among distinct people are computed in SQL; each blocking
   rule becomes one 64-bit hash column per record.
3. block: one self-join per rule on its hash; a pair an earlier rule found is left out there
   (as Splink does), so no global de-duplication of pairs is needed.
4. compare: the pairs joined to both records' columns stream out in Arrow batches through the
   engine's ``comparison_levels``; the levels are written to Parquet.
5. fit: u from random record pairs; m and lambda by the engine's EM sessions on a uniform
   sample of the candidate pairs' levels (EM works on pattern shares, which a sample keeps).
6. predict: each levels part is scored with the model and the pair rules; only links are kept.
7. cluster: connected components of the links, then the engine's guarded union-find run on one
   batch of whole components at a time, with only those records' guard columns fetched.
"""

from __future__ import annotations

import math
import resource
import shutil
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from familymatch.errors import ConfigError
from familymatch.link import fit_sessions, linkable_expr, same_row_expr
from familymatch.link.blocking import DEFAULT_RULES, BlockingRule, key_frame, usable_rules
from familymatch.link.cluster import GUARD_READS, PersonClusters, components, guard_people
from familymatch.link.compare import COMPARE_COLUMNS, FIELDS, comparison_levels, street_expr
from familymatch.link.model import FSModel, estimate_u, level_shares
from familymatch.link.pair_rules import DEFAULT_PAIR_RULES, PairRule, rule_stage
from familymatch.logs import get_logger
from familymatch.standardise import standardise

log = get_logger(__name__)

# the columns a pair's comparison reads, per side (compare.pair_frame's, from DuckDB)
PAIR_COLUMNS = (*COMPARE_COLUMNS, "sn_tf", "fn_tf", "addr_street")
STAGED_COLUMNS = (*COMPARE_COLUMNS, "addr_street", "nino_std", "upn_std", "same_row")


# blocking keys that say where a person lives: a rule with one of them finds pairs within one
# area; a rule without them (names and dates of birth) finds pairs across the country
LOCATION_KEYS = frozenset(
    {"pc", "pc_sector", "pc_district", "pc_area", "addr", "addr_street", "addr_num", "address_id"}
)


# rules on names and dates of birth too loose to run across a country: their pairs grow with
# the square of the records (harness synth_100k -> synth_1m: dob+surname_initial 57,666 ->
# 3,877,078 estimated pairs, x67 for x10 records; every other such rule x11 to x24)
WITHIN_SHARDS = frozenset({"dob+surname_initial"})


def sharded_rules(
    rules: tuple[BlockingRule, ...], shard_key: str, within: frozenset[str] = WITHIN_SHARDS
) -> tuple[BlockingRule, ...]:
    """The rules of a run split into shards (councils, postcode areas) and merged: each rule on a
    location key, and each rule named in ``within``, also needs the same ``shard_key`` (it runs
    inside each shard); the other rules, on names and dates of birth, run across all shards
    (they find the people who moved)."""
    return tuple(
        BlockingRule(f"{r.name}@{shard_key}", (*r.keys, shard_key))
        if LOCATION_KEYS.intersection(r.keys) or r.name in within
        else r
        for r in rules
    )


@dataclass(frozen=True)
class OutOfCoreConfig:
    """Settings of an out-of-core run (the link settings mean what they mean in LinkConfig)."""

    rules: tuple[BlockingRule, ...] = DEFAULT_RULES
    pair_rules: tuple[PairRule, ...] = DEFAULT_PAIR_RULES
    household_guards: bool = True
    threshold: float = 0.5
    identifier_columns: tuple[str, ...] = ("nino_std", "upn_std", "same_row")
    max_pairs_per_rule: int = 2_000_000_000
    memory_limit_mb: int = 2000  # DuckDB's own limit; it spills to the work folder beyond it
    threads: int = 2
    chunk: int = 500_000  # pairs compared and scored at a time
    em_sample_pairs: int = 5_000_000  # candidate pairs' levels the EM sees (a uniform sample)
    u_sample_pairs: int = 1_000_000
    cluster_batch: int = 1_000_000  # linked records clustered at a time (whole components)
    seed: int = 42


@dataclass
class OutOfCoreResult:
    persons: Path  # Parquet: record_id, person_id, linkable (one row per record)
    model: FSModel
    stats: dict[str, Any] = field(default_factory=dict)


def _peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def query_frame(con: Any, sql: str) -> pl.DataFrame:
    """A query's whole result as a polars frame (for small results)."""
    frame = pl.from_arrow(con.sql(sql).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def connect(db: Path, config: OutOfCoreConfig) -> Any:
    """A DuckDB database at ``db`` with the memory limit, threads and spill folder set."""
    try:
        import duckdb
    except ImportError as exc:  # the optional extra
        raise ConfigError(
            "the out-of-core link backend needs DuckDB: pip install -e '.[national]'."
        ) from exc
    con = duckdb.connect(str(db))
    con.execute(f"SET memory_limit = '{int(config.memory_limit_mb)}MB'")
    con.execute(f"SET threads = {int(config.threads)}")
    con.execute(f"SET temp_directory = '{db.parent / 'spill'}'")
    con.execute("SET preserve_insertion_order = false")
    return con


# ---------------------------------------------------------------------------------- 1. stage
def stage_records(
    batches: Iterable[pl.DataFrame], folder: Path, rules: tuple[BlockingRule, ...]
) -> tuple[int, tuple[BlockingRule, ...]]:
    """Standardise each batch of canonical records and write its columns and blocking keys to
    ``folder/std`` and ``folder/keys``. Returns the number of records and the rules in use."""
    (folder / "std").mkdir(parents=True)
    (folder / "keys").mkdir()
    offset = 0
    present: tuple[BlockingRule, ...] | None = None
    for part, records in enumerate(batches):
        std = (
            standardise(records)
            .with_row_index("__i", offset=offset)
            .with_columns(linkable_expr().alias("linkable"))
            .with_columns(
                street_expr(pl.col("addr")).alias("addr_street"), same_row_expr().alias("same_row")
            )
        )
        present = present or usable_rules(std, rules)
        extra = ["address_id"] if "address_id" in std.columns else []
        std.select("__i", "record_id", "linkable", *STAGED_COLUMNS, *extra).write_parquet(
            folder / "std" / f"part-{part:05d}.parquet"
        )
        key_frame(std.filter(pl.col("linkable")), present).write_parquet(
            folder / "keys" / f"part-{part:05d}.parquet"
        )
        offset += std.height
    return offset, present or ()


# ---------------------------------------------------------------------------------- 2. load
def load_tables(con: Any, folder: Path, rules: tuple[BlockingRule, ...]) -> None:
    """``recs`` (the staged columns plus name frequencies) and ``keys`` (one hash per rule)."""
    std = folder / "std" / "*.parquet"
    con.execute(f"CREATE TEMP VIEW staged AS SELECT * FROM read_parquet('{std}', union_by_name=1)")
    # the share of distinct people (name + date of birth) with each surname / forename, as
    # name_frequencies in the engine
    for name, other in (("sn", "fn_canon"), ("fn", "sn")):
        con.execute(
            f"""CREATE TABLE tf_{name} AS
            WITH d AS (SELECT DISTINCT {name}, {other}, dob FROM staged
                       WHERE linkable AND {name} IS NOT NULL)
            SELECT {name}, count(*) / (SELECT count(*) FROM d) AS tf FROM d GROUP BY {name}"""
        )
    con.execute(
        """CREATE TABLE recs AS SELECT s.*, CAST(a.tf AS FLOAT) AS sn_tf,
        CAST(b.tf AS FLOAT) AS fn_tf FROM staged s LEFT JOIN tf_sn a ON a.sn = s.sn
        LEFT JOIN tf_fn b ON b.fn = s.fn"""
    )
    hashes = []
    for k, rule in enumerate(rules):
        cols = ", ".join(f'"{c}"' for c in rule.keys)
        present = " AND ".join(f'"{c}" IS NOT NULL' for c in rule.keys)
        hashes.append(f"CASE WHEN {present} THEN hash({cols}) END AS h{k}")
    keys = folder / "keys" / "*.parquet"
    con.execute(f"CREATE TABLE keys AS SELECT __i, {', '.join(hashes)} FROM read_parquet('{keys}')")


# ---------------------------------------------------------------------------------- 3. block
def block(con: Any, rules: tuple[BlockingRule, ...], max_pairs: int) -> dict[str, dict[str, int]]:
    """Table ``pairs`` (i < j, rule): each pair once, under the first rule that finds it."""
    con.execute("CREATE TABLE pairs (i UINTEGER, j UINTEGER, rule SMALLINT)")
    stats: dict[str, dict[str, int]] = {}
    for k, rule in enumerate(rules):
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE grp AS SELECT * FROM keys WHERE h{k} IS NOT NULL
            QUALIFY count(*) OVER (PARTITION BY h{k}) > 1"""
        )
        est = con.execute(
            f"SELECT coalesce(sum(n * (n - 1) // 2), 0) FROM "
            f"(SELECT count(*) AS n FROM grp GROUP BY h{k})"
        ).fetchall()[0][0]
        if est > max_pairs:
            raise ConfigError(
                f"blocking rule '{rule.name}' would create {int(est):,} candidate pairs, over "
                f"the limit of {max_pairs:,}; add a key to the rule or raise the limit."
            )
        earlier = " OR ".join(f"coalesce(a.h{r} = b.h{r}, false)" for r in range(k)) or "false"
        before = con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]
        con.execute(
            f"""INSERT INTO pairs SELECT a.__i, b.__i, {k} FROM grp a JOIN grp b
            ON a.h{k} = b.h{k} AND a.__i < b.__i WHERE NOT ({earlier})"""
        )
        after = con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]
        stats[rule.name] = {"estimated": int(est), "pairs": int(after - before)}
    con.execute("DROP TABLE grp")
    return stats


# ---------------------------------------------------------------------------------- 4. compare
def pair_batches(con: Any, pairs_table: str, rows: int) -> Iterator[pl.DataFrame]:
    """compare.pair_frame's frame (i, j, rule, <column>_l, <column>_r) in batches of ``rows``."""
    sides = ", ".join(f'{s}."{c}" AS "{c}_{s}"' for s in ("l", "r") for c in PAIR_COLUMNS)
    reader = con.sql(
        f"""SELECT p.i, p.j, p.rule, {sides} FROM {pairs_table} p
        JOIN recs l ON l.__i = p.i JOIN recs r ON r.__i = p.j"""
    ).to_arrow_reader(rows)
    for batch in reader:
        if batch.num_rows:
            frame = pl.from_arrow(batch)
            assert isinstance(frame, pl.DataFrame)
            yield frame


def compare_pairs(
    con: Any, folder: Path, config: OutOfCoreConfig, n_pairs: int
) -> tuple[int, pl.DataFrame]:
    """Levels of every candidate pair to ``folder/levels``; returns the number of parts and a
    uniform sample of the levels (at most ``em_sample_pairs`` rows) for the EM."""
    (folder / "levels").mkdir()
    share = min(1.0, config.em_sample_pairs / max(n_pairs, 1))
    samples = []
    parts = 0
    for parts, pf in enumerate(pair_batches(con, "pairs", config.chunk), start=1):
        levels = comparison_levels(pf)
        levels.write_parquet(folder / "levels" / f"part-{parts:05d}.parquet")
        sample = levels if share >= 1.0 else levels.sample(fraction=share, seed=config.seed + parts)
        samples.append(sample.select(list(FIELDS)))
    empty = pl.DataFrame({f: pl.Series([], dtype=pl.Int8) for f in FIELDS})
    return parts, pl.concat(samples) if samples else empty


# ---------------------------------------------------------------------------------- 5. fit
def levels_of(con: Any, pairs: pl.DataFrame, chunk: int) -> pl.DataFrame:
    """Comparison levels of the given (i, j) pairs, read from DuckDB."""
    con.register("given_pairs", pairs.with_columns(pl.lit(-1, dtype=pl.Int16).alias("rule")))
    try:
        parts = [comparison_levels(pf) for pf in pair_batches(con, "given_pairs", chunk)]
    finally:
        con.unregister("given_pairs")
    empty = pl.DataFrame({f: pl.Series([], dtype=pl.Int8) for f in FIELDS})
    return pl.concat(parts).select(list(FIELDS)) if parts else empty


def random_pairs(con: Any, n: int, seed: int) -> pl.DataFrame:
    """``n`` random pairs of linkable records (as the engine draws them: same seed, same pairs)."""
    idx = con.execute("SELECT __i FROM recs WHERE linkable ORDER BY __i").fetchnumpy()["__i"]
    rng = np.random.default_rng(seed)
    if len(idx) < 2:
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32})
    a = rng.choice(idx, n)
    b = rng.choice(idx, n)
    keep = a != b
    return pl.DataFrame({"i": a[keep], "j": b[keep]}).cast(pl.UInt32)


def identifier_pairs(con: Any, columns: tuple[str, ...]) -> pl.DataFrame:
    """i, j, stage: each linkable record with an identifier joined to the first record sharing it."""
    parts = [
        f"""SELECT __i AS i, min(__i) OVER (PARTITION BY {c}) AS j, '{c.removesuffix("_std")}'
        AS stage FROM recs WHERE linkable AND {c} IS NOT NULL"""
        for c in columns
    ]
    if not parts:
        return pl.DataFrame(schema={"i": pl.UInt32, "j": pl.UInt32, "stage": pl.String})
    sql = f"SELECT i, j, stage FROM ({' UNION ALL '.join(parts)}) WHERE i <> j"
    return query_frame(con, sql).cast({"i": pl.UInt32, "j": pl.UInt32})


def fit(
    con: Any, sample: pl.DataFrame, id_pairs: pl.DataFrame, n_linkable: int, config: OutOfCoreConfig
) -> FSModel:
    """The engine's fit_model on the sample: u from random pairs, m started from the identifier
    pairs' levels when there are 100 or more, then the EM sessions."""
    n_random = min(config.u_sample_pairs, max(50_000, n_linkable * 20))
    u = estimate_u(levels_of(con, random_pairs(con, n_random, config.seed), config.chunk))
    confirmed = id_pairs.filter(pl.col("stage") != "same_row")
    m_start = None
    if confirmed.height >= 100:
        m_start = level_shares(levels_of(con, confirmed.select("i", "j"), config.chunk))
    model = fit_sessions(sample, u, m_start)
    tf = (
        con.execute("SELECT sn, tf FROM tf_sn").fetchall(),
        con.execute("SELECT fn, tf FROM tf_fn").fetchall(),
    )
    model.tf = {"sn": dict(tf[0]), "fn": dict(tf[1])}
    return model


# ---------------------------------------------------------------------------------- 6. predict
def predict(
    folder: Path, parts: int, model: FSModel, n_linkable: int, config: OutOfCoreConfig
) -> pl.DataFrame:
    """i, j, match_weight of every linked pair (the engine's scoring and pair rules)."""
    stage = rule_stage(config.pair_rules, config.household_guards)
    log2_records = math.log2(max(n_linkable, 2))
    links = []
    for p in range(1, parts + 1):
        scored = (
            model.score(pl.read_parquet(folder / "levels" / f"part-{p:05d}.parquet"))
            .with_columns(pl.lit(log2_records).alias("log2_records"))
            .with_columns(stage.alias("stage"))
            .filter((pl.col("match_probability") >= config.threshold) & (pl.col("stage") == "fs"))
        )
        links.append(scored.select("i", "j", "match_weight"))
    schema = {"i": pl.UInt32, "j": pl.UInt32, "match_weight": pl.Float64}
    return pl.concat(links) if links else pl.DataFrame(schema=schema)


# ---------------------------------------------------------------------------------- 7. cluster
def edge_components(i: np.ndarray, j: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The records taking part in an edge (sorted) and each one's component (the smallest
    record index in it): the engine's ``components`` over the records numbered compactly."""
    nodes = np.unique(np.concatenate([i, j]))
    label = components(len(nodes), np.searchsorted(nodes, i), np.searchsorted(nodes, j))
    return nodes, nodes[label]


def cluster(
    con: Any, id_pairs: pl.DataFrame, links: pl.DataFrame, config: OutOfCoreConfig
) -> tuple[pl.DataFrame, int]:
    """i, root for every linked record, and the number of merges the guards refused. Identifier
    pairs first, then links strongest first, as the engine; a batch holds whole components, so
    the result equals one pass over all edges."""
    edges = pl.concat(
        [
            id_pairs.select(
                "i", "j", pl.lit(True).alias("identifier"), pl.lit(math.inf).alias("w")
            ),
            links.select(
                "i", "j", pl.lit(False).alias("identifier"), pl.col("match_weight").alias("w")
            ),
        ]
    ).sort(["identifier", "w"], descending=True, maintain_order=True)
    if edges.height == 0:
        return pl.DataFrame(schema={"i": pl.UInt32, "root": pl.Int64}), 0
    nodes, comp = edge_components(edges["i"].to_numpy(), edges["j"].to_numpy())
    node_comp = pl.DataFrame({"i": nodes, "comp": comp}).cast({"i": pl.UInt32})
    # batches of whole components, in order of component, about cluster_batch records each
    sizes = node_comp.group_by("comp").len().sort("comp")
    sizes = sizes.with_columns((pl.col("len").cum_sum() // config.cluster_batch).alias("batch"))
    node_comp = node_comp.join(sizes.select("comp", "batch"), on="comp")
    edges = edges.join(node_comp.select("i", "batch"), on="i", how="left", maintain_order="left")
    roots, refused = [], 0
    for (batch,), members in node_comp.group_by("batch"):
        con.register("batch_nodes", members.select(pl.col("i").alias("__i")))
        cols = ", ".join(f'r."{c}"' for c in GUARD_READS)
        people_frame = query_frame(
            con, f"SELECT r.__i, {cols} FROM recs r SEMI JOIN batch_nodes b ON r.__i = b.__i"
        )
        con.unregister("batch_nodes")
        clusters = PersonClusters(0, guard_people(people_frame))
        for i, j, identifier in (
            edges.filter(pl.col("batch") == batch).select("i", "j", "identifier").iter_rows()
        ):
            if not clusters.union(i, j, check_people=config.household_guards and not identifier):
                refused += 1
        ids = members["i"].to_list()
        roots.append(pl.DataFrame({"i": ids, "root": [clusters.find(x) for x in ids]}))
    return pl.concat(roots).cast({"i": pl.UInt32, "root": pl.Int64}), refused


def write_persons(con: Any, roots: pl.DataFrame, path: Path) -> int:
    """record_id, person_id, linkable for every record (person ids P0000001... in order of each
    person's first record id, as the engine numbers them); returns the number of persons."""
    con.register("roots", roots)
    con.execute(
        f"""COPY (
        WITH r AS (SELECT s.record_id, coalesce(x.root, s.__i) AS root, s.linkable
                   FROM recs s LEFT JOIN roots x ON x.i = s.__i),
        o AS (SELECT root, row_number() OVER (ORDER BY min(record_id)) AS rank
              FROM r GROUP BY root)
        SELECT r.record_id, 'P' || lpad(CAST(o.rank AS VARCHAR), 7, '0') AS person_id, r.linkable
        FROM r JOIN o USING (root)) TO '{path}' (FORMAT parquet)"""
    )
    con.unregister("roots")
    return int(con.execute(f"SELECT count(DISTINCT person_id) FROM '{path}'").fetchall()[0][0])


# ---------------------------------------------------------------------------------- the run
def link_out_of_core(
    batches: Iterable[pl.DataFrame], workdir: Path, config: OutOfCoreConfig | None = None
) -> OutOfCoreResult:
    """Link canonical records arriving in batches into persons, holding them on disk in
    ``workdir`` (created; an existing one is refused). Writes ``workdir/persons.parquet``."""
    config = config or OutOfCoreConfig()
    if workdir.exists() and any(workdir.iterdir()):
        raise ConfigError(f"work folder {workdir} is not empty; give a new or empty folder.")
    workdir.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    peak: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        seconds[name] = round(time.perf_counter() - t, 3)
        peak[name] = _peak_rss_mb()
        log.info("out of core: %s %.1f s, peak %.0f MB", name, seconds[name], peak[name])
        t = time.perf_counter()

    n, rules = stage_records(batches, workdir, config.rules)
    lap("stage")
    con = connect(workdir / "link.duckdb", config)
    try:
        load_tables(con, workdir, rules)
        n_linkable = int(con.execute("SELECT count(*) FROM recs WHERE linkable").fetchall()[0][0])
        lap("load")
        block_stats = block(con, rules, config.max_pairs_per_rule)
        n_pairs = int(con.execute("SELECT count(*) FROM pairs").fetchall()[0][0])
        lap("block")
        parts, sample = compare_pairs(con, workdir, config, n_pairs)
        lap("compare")
        id_pairs = identifier_pairs(con, config.identifier_columns)
        model = fit(con, sample, id_pairs, n_linkable, config)
        lap("fit")
        links = predict(workdir, parts, model, n_linkable, config)
        lap("predict")
        roots, refused = cluster(con, id_pairs, links, config)
        persons = workdir / "persons.parquet"
        n_persons = write_persons(con, roots, persons)
        lap("cluster")
    finally:
        con.close()
    shutil.rmtree(workdir / "levels", ignore_errors=True)
    stats = {
        "records": n,
        "linkable": n_linkable,
        "candidate_pairs": n_pairs,
        "blocking": block_stats,
        "identifier_links": id_pairs.height,
        "fs_links": links.height,
        "refused_merges": refused,
        "persons": n_persons,
        "em_sample_pairs": sample.height,
        "seconds": seconds,
        "peak_rss_mb": peak,
    }
    return OutOfCoreResult(persons=persons, model=model, stats=stats)
