"""CPU seconds of the linkage by stage on a harness data set, standardise included, and the
frames to compare two trees with (issue 15 item 3; decision 0016, session 4).

    .venv/bin/python bench/link_cpu.py ../shared/bench/data/synth_100k [OUT_DIR] [--share 0.3]

Prints one JSON line: CPU seconds (all threads) of standardise and of each link stage, the
candidate pairs and the peak RSS. ``--share`` keeps that share of the households (by a hash of
the truth's ``household_id``: whole households, so the guards see what they would). With
OUT_DIR, writes persons, pairs and the model there: run it from two worktrees (the other with
``PYTHONPATH`` on it) and compare the files; every level is the same when they are equal.
On a shared machine CPU seconds are the steadier figure (wall seconds inflate with the load).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

import polars as pl

from familymatch.link import LinkConfig, link_records
from familymatch.link.blocking import DEFAULT_RULES, WIDE_RULES
from familymatch.standardise import standardise

sys.path.insert(0, str(Path(__file__).parent))
from link_dataset import load  # noqa: E402


def households_share(records: pl.DataFrame, data_dir: Path, share: float) -> pl.DataFrame:
    """The records of ``share`` (in tenths) of the truth's households."""
    truth = pl.read_parquet(data_dir / "truth.parquet", columns=["rec_id", "household_id"])
    kept = truth.filter(pl.col("household_id").hash(seed=1) % 10 < round(share * 10))
    return records.join(
        kept.select(pl.col("rec_id").alias("record_id")), on="record_id", how="semi"
    )


def main() -> None:
    args = sys.argv[1:]
    share = 1.0
    if "--share" in args:
        at = args.index("--share")
        share = float(args[at + 1])
        del args[at : at + 2]
    data_dir = Path(args[0])
    out = Path(args[1]) if len(args) > 1 else None
    records = load(data_dir)
    if share < 1:
        records = households_share(records, data_dir, share)
    t = time.process_time()
    std = standardise(records)
    cpu = {"standardise": round(time.process_time() - t, 3)}
    n_records = records.height
    del records  # as bench/link_dataset.py: the raw sources are not held through the linkage
    manifest = json.loads((data_dir / "manifest.json").read_text())
    household = manifest.get("postcode_format", "uk") == "uk"
    rules = DEFAULT_RULES if household else DEFAULT_RULES + WIDE_RULES
    result = link_records(std, LinkConfig(household_guards=household, rules=rules))
    stats = {
        "records": n_records,
        "cpu_seconds": {**cpu, **result.stats["cpu_seconds"]},  # type: ignore[dict-item]
        "candidate_pairs": result.stats["candidate_pairs"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(stats))
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.persons.write_parquet(out / "persons.parquet")
        result.pairs.write_parquet(out / "pairs.parquet")
        (out / "model.json").write_text(result.model.to_json())


if __name__ == "__main__":
    main()
