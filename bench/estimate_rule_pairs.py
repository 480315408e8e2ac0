"""Estimated candidate pairs per blocking rule on a harness data set, plain and sharded.

    .venv/bin/python bench/estimate_rule_pairs.py HARNESS/data/synth_100k

The records are staged as the out-of-core backend stages them (a batch at a time); for every
rule, and for every rule ``sharded_rules`` moves into postcode areas, prints the sum over key
groups of n(n-1)/2 as one JSON line (rule -> pairs). Comparing two sizes shows which rules grow
with the square of the records (docs/decisions/0017-past-one-machine.md).
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import polars as pl
from link_national import batches

from familymatch.link.backends.outofcore import sharded_rules, stage_records
from familymatch.link.blocking import DEFAULT_RULES, estimate_pairs


def main() -> None:
    t = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        both = DEFAULT_RULES + tuple(
            r for r in sharded_rules(DEFAULT_RULES, "shard") if r not in DEFAULT_RULES
        )
        n, rules = stage_records(batches(Path(sys.argv[1]), 500_000, shard=True), Path(tmp), both)
        keys = pl.read_parquet(Path(tmp) / "keys" / "*.parquet")
        est = {r.name: estimate_pairs(keys, r) for r in rules}
    print(json.dumps({"records": n, "seconds": round(time.perf_counter() - t), "pairs": est}))


if __name__ == "__main__":
    main()
