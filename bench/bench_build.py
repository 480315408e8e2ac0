"""Benchmark a whole build on the synthetic council: one JSON line per scale.

    .venv/bin/python bench/bench_build.py 1 10        # scales to run (default: 1)
    .venv/bin/python bench/bench_build.py 1 --gazetteer   # the project names lookups/gazetteer.csv

For each scale: generation time, ingest speed (rows per second), seconds per stage (ingest,
standardise, link with its block / compare / fit / predict / cluster, households, rules,
record into SQLite), peak memory, person, household and address F1 against the truth, the
address stage's counts by how records were resolved (and the share matched to the gazetteer
with --gazetteer), and the phase-1
cohort against the planted counts. Figures go to stdout; progress to stderr. Work folders are
under work/bench/ (git-ignored).
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from pathlib import Path

import polars as pl

from familymatch.addresses import address_summary
from familymatch.link.evaluate import evaluate_links
from fixtures.generate import generate
from fixtures.profiles.addresses import set_gazetteer
from rules.build import build_cohort


def run(scale: float, gazetteer: bool = False) -> dict[str, object]:
    out = Path("work/bench") / f"scale_{scale:g}{'_gazetteer' if gazetteer else ''}"
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    gen = generate(out, scale=scale, seed=42)
    t_gen = time.perf_counter() - t
    print(f"generated scale {scale:g} in {t_gen:.1f} s", file=sys.stderr)
    if gazetteer:
        set_gazetteer(out / "familymatch.toml", on=True)
    t = time.perf_counter()
    result = build_cohort(out / "familymatch.toml")
    t_build = time.perf_counter() - t
    rows = sum(s.rows_read for s in result.linked.ingest.stats)
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    scores = evaluate_links(result.linked.membership, truth, result.linked.addresses.records)
    expected = json.loads((out / "truth" / "expected.json").read_text())["phase1"][
        "cohort_by_combination"
    ]
    found = result.summary["cohort"]["by_combination"]  # type: ignore[index]
    link_s = result.linked.link.stats["seconds"]
    return {
        "scale": scale,
        "households": gen.households,
        "source_rows": rows,
        "records": result.linked.ingest.records.height,
        "generate_s": round(t_gen, 1),
        "build_s": round(t_build, 1),
        "extracts_to_households_s": round(
            sum(result.seconds[k] for k in ("ingest", "standardise", "link", "households")), 1
        ),
        "ingest_rows_per_s": round(rows / result.seconds["ingest"]),
        "stages_s": {k: round(v, 2) for k, v in result.seconds.items()},
        "link_stages_s": {k: round(v, 2) for k, v in link_s.items()},  # type: ignore[union-attr]
        "link_cpu_s": result.linked.link.stats["cpu_seconds"],
        "link_peak_rss_mb": result.linked.link.stats["peak_rss_mb"],
        "candidate_pairs": result.linked.link.stats["candidate_pairs"],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "persons": {k: scores["persons"][k] for k in ("precision", "recall", "f1")},
        "households_f1": {k: scores["households"][k] for k in ("precision", "recall", "f1")},
        "addresses_f1": {k: scores["addresses"][k] for k in ("precision", "recall", "f1")},
        "addresses": address_summary(result.linked.addresses),
        "cohort_planted": expected,
        "cohort_found": {k: found.get(k, 0) for k in expected},
    }


def main() -> None:
    gazetteer = "--gazetteer" in sys.argv[1:]
    scales = [float(a) for a in sys.argv[1:] if a != "--gazetteer"] or [1.0]
    for scale in scales:
        print(json.dumps(run(scale, gazetteer)), flush=True)


if __name__ == "__main__":
    main()
