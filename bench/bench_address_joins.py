"""The address stage step by step: rows each join makes and the memory each step takes.

    .venv/bin/python bench/bench_address_joins.py work/bench/stages_3
    flock /work/heavy.lock .venv/bin/python bench/bench_address_joins.py work/bench/stages_10

The first run of a folder ingests and standardises its extracts and keeps only the columns the
address stage reads (record_id, address, postcode, uprn) in FOLDER/address_input.parquet (owner
only: it holds addresses); later runs read that file, so a run measures the address stage alone.

For each step of ``resolve_addresses`` (the variants, every edge function, the components, the
street-only step, the unplaced variants, the assembly) one line on stdout: seconds, CPU seconds,
resident MB on entry, peak MB inside (exact: VmHWM reset at every step), rows it returned, and
for the edge functions the rows of their self-joins (pairs of variants agreeing on the join's
key, counted from the key's group sizes without making them). A join that grows with the square
of the county shows here as rows growing faster than the variants from one scale to the next.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from bench_stages import _reset_peak, _status_kb

from familymatch.addresses import _assemble, _variants
from familymatch.addresses import resolve as r


def address_input(folder: Path) -> pl.DataFrame:
    """record_id, address, postcode, uprn of the council's standardised records (cached)."""
    cached = folder / "address_input.parquet"
    if not cached.exists():
        from familymatch.ingest import ingest_project
        from familymatch.project import load_project
        from familymatch.standardise import standardise

        std = standardise(ingest_project(load_project(folder / "familymatch.toml")).records)
        std.select("record_id", "address", "postcode", "uprn").write_parquet(cached)
        os.chmod(cached, 0o600)
        print(f"cached {cached}; run again to measure the stage alone", file=sys.stderr)
        sys.exit(0)
    return pl.read_parquet(cached)


def pairs_of(frame: pl.DataFrame, on: list[str], strict: bool = True) -> int:
    """Rows of a self-join on ``on`` (v_l < v_r when strict; every ordered pair with itself when
    not), from the key's group sizes."""
    n = frame.drop_nulls(on).group_by(on).len()["len"].cast(pl.Int64)
    return int(((n * (n - 1)) // 2).sum()) if strict else int((n * n).sum())


def join_rows(variants: pl.DataFrame) -> dict[str, int]:
    """The self-joins' sizes, named by the edge function that makes them."""
    keyed = variants.filter(pl.col("pc_ok")).with_columns(pl.col("flat").fill_null(""))
    houses = keyed.group_by("pc", "street").len()
    pc = pl.col("pc")
    masked = [
        keyed.filter(pc.str.len_chars() > i).with_columns(
            pl.concat_str([pc.str.slice(0, i), pc.str.slice(i + 1)], separator="?").alias("m")
        )
        for i in range(8)
    ]
    return {
        "same_number[pc,flat,number]": pairs_of(keyed, ["pc", "flat", "number"]),
        # before: one join on street, flat and number across the county
        "postcode_slip[street,flat,number]": pairs_of(keyed, ["street", "flat", "number"]),
        # after: one join per masked position of the postcode, one within the district
        "postcode_slip[street,flat,number,pc masked]": sum(
            pairs_of(m, ["street", "flat", "number", "m"]) for m in masked
        ),
        "postcode_slip[street,flat,number,district]": pairs_of(
            keyed, ["street", "flat", "number", "district"]
        ),
        "postcode_slip._houses[pc]": pairs_of(houses.with_columns(pl.lit(1).alias("k")), ["pc"]),
        "number_slip[pc,flat,street]": pairs_of(keyed, ["pc", "flat", "street"], strict=False),
        "building[pc,flat,building]": pairs_of(keyed, ["pc", "flat", "building"]),
    }


def measured(name: str, f: Callable[[], Any], out: list[dict[str, Any]]) -> Any:
    """Run ``f`` and append its line: seconds, CPU seconds, entry / peak MB, rows returned."""
    _reset_peak()
    entry = _status_kb("VmRSS") >> 10
    t, c = time.perf_counter(), time.process_time()
    value = f()
    line = {
        "step": name,
        "s": round(time.perf_counter() - t, 2),
        "cpu_s": round(time.process_time() - c, 2),
        "entry_mb": entry,
        "peak_mb": _status_kb("VmHWM") >> 10,
        "rows": getattr(value, "height", None) if not isinstance(value, tuple) else None,
    }
    print(json.dumps(line), flush=True)
    out.append(line)
    return value


EDGES = (
    "_edges_uprn",
    "_edges_same_number",
    "_edges_postcode_slip",
    "_edges_number_slip",
    "_edges_building",
    "_edges_building_number_left_out",
    "_edges_street_left_out",
)


def main() -> None:
    folder = Path(sys.argv[1])
    raw = address_input(folder).select(
        "record_id",
        pl.col("address").str.strip_chars(),
        pl.col("postcode").str.strip_chars(),
        pl.col("uprn").str.strip_chars().str.replace(r"\.0$", ""),
        pl.lit(False).alias("gaz"),
    )
    steps: list[dict[str, Any]] = []
    distinct = (
        raw.group_by("address", "postcode", "uprn", "gaz")
        .len("n")
        .sort("address", "postcode", "uprn", nulls_last=True)
    )
    variants, lookup = measured("variants", lambda: _variants(distinct), steps)
    print(json.dumps({"records": raw.height, "variants": variants.height}), flush=True)
    print(json.dumps({"join_rows": join_rows(variants)}), flush=True)
    edges = [measured(e, functools.partial(getattr(r, e), variants), steps) for e in EDGES]
    all_edges = pl.concat(edges)
    comp = measured("components", lambda: r.components(variants["v"], all_edges), steps)
    measured("_edges_street_only", lambda: r._edges_street_only(variants, comp), steps)
    matched = measured("match_variants", lambda: r.match_variants(variants), steps)
    bare = measured("unplaced", lambda: r.unplaced(variants, matched), steps)
    recs = raw.join(
        lookup.filter(~pl.col("gaz")).drop("gaz"),
        on=["address", "postcode", "uprn"],
        nulls_equal=True,
    ).select("record_id", "v")
    measured("_assemble", lambda: _assemble(recs, variants, matched, bare, False), steps)


if __name__ == "__main__":
    main()
