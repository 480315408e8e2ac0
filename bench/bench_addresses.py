"""Time the address stage alone on a generated council, with and without its gazetteer.

    .venv/bin/python bench/bench_addresses.py DATA_DIR      # a folder from `fixtures generate`

Ingests and standardises the council's extracts once, then runs ``resolve_addresses`` without
and with ``lookups/gazetteer.csv``; prints one JSON line each: seconds, entities, records by how
they were resolved, the gazetteer share and address F1 against ``truth/records.parquet``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import polars as pl

from familymatch.addresses import address_summary, resolve_addresses
from familymatch.addresses.gazetteer import read_gazetteer
from familymatch.ingest import ingest_project
from familymatch.link.evaluate import address_scores
from familymatch.project import load_project
from familymatch.standardise import standardise
from fixtures.profiles.addresses import set_gazetteer


def main() -> None:
    folder = Path(sys.argv[1])
    project = load_project(folder / "familymatch.toml")
    std = standardise(ingest_project(project).records)
    truth = pl.read_parquet(folder / "truth" / "records.parquet")
    probe = folder / "gazetteer-probe.toml"
    probe.write_text((folder / "familymatch.toml").read_text(encoding="utf-8"), encoding="utf-8")
    set_gazetteer(probe, on=True)
    gazetteer = read_gazetteer(load_project(probe).gazetteer)
    probe.unlink()
    for name, gaz in (("without", None), ("with", gazetteer)):
        t = time.perf_counter()
        result = resolve_addresses(std, gaz)
        seconds = time.perf_counter() - t
        scores = address_scores(result.records, truth)
        line = {
            "gazetteer": name,
            "records": std.height,
            "seconds": round(seconds, 2),
            **address_summary(result),
            "address": {k: scores[k] for k in ("precision", "recall", "f1")},
        }
        print(json.dumps(line), flush=True)


if __name__ == "__main__":
    main()
