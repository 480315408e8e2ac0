"""familymatch adapter for the shared benchmark harness (../shared/bench, contract in its README).

Copy or symlink this file into ../shared/bench and run it with the harness:

    ln -sf "$PWD/bench/run_familymatch.py" ../shared/bench/run_familymatch.py
    cd ../shared/bench && DATASETS="febrl3 febrl4 synth_10k synth_100k" ./compare.sh

It runs familymatch in the project's own virtual environment (FAMILYMATCH_REPO, default: the
repository this file lives in) as a child process (bench/link_dataset.py), then scores the
clusters with the harness's evaluate_clusters. seconds_total is the child's own measure (load +
standardise + block + compare + fit + predict + cluster, without interpreter start-up and
imports); seconds_predict = compare + classify + cluster. Peak RSS includes the child.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path.cwd()))  # the harness runs adapters from its own folder
from common import DATA_DIR, Dataset, emit, evaluate_clusters, load_manifest, peak_rss_mb  # noqa: E402

REPO = Path(os.environ.get("FAMILYMATCH_REPO", Path(__file__).resolve().parents[1]))


def record_ids(name: str) -> Dataset:
    """The data set with only its record ids (all evaluate_clusters reads of the sources): at 10M
    records the full sources in pandas would take gigabytes of the adapter's own memory."""
    ds = Dataset(name=name, path=DATA_DIR / name, manifest=load_manifest(name))
    for source in ds.manifest["sources"]:
        path = DATA_DIR / name / ds.manifest["files"][source]
        ds.sources[source] = pd.read_parquet(path, columns=["rec_id"])
    return ds


def run_adapter(tool: str, script: str, config: str, extra_args: list[str] | None = None) -> None:
    """Run ``bench/<script>`` on the data set named on the command line in the project's
    environment, score its clusters, print the harness's JSON line."""
    name = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(
            [
                str(REPO / ".venv" / "bin" / "python"),
                str(REPO / "bench" / script),
                str(DATA_DIR / name),
                tmp,
                *(extra_args or []),
            ],
            check=True,
            stdout=sys.stderr,
            cwd=REPO,
        )
        stats = json.loads(Path(tmp, "stats.json").read_text())
        clusters = pd.read_parquet(Path(tmp, "clusters.parquet"))
    rss = peak_rss_mb()  # the linkage's, before the evaluation reads the truth
    ds = record_ids(name)
    m = evaluate_clusters(ds, clusters["rec_id"].to_numpy(), clusters["cluster_id"].to_numpy())
    emit(
        {
            "tool": tool,
            "dataset": name,
            "n_records": ds.n_records,
            "candidate_pairs": stats["candidate_pairs"],
            "seconds_total": stats["seconds_total"],
            "seconds_predict": stats["seconds_predict"],
            "peak_rss_mb": max(rss, stats["peak_rss_mb"]),
            "precision": m["precision"],
            "recall": m["recall"],
            "f1": m["f1"],
            "status": "ok",
            "stages": stats["stages"],
            "tool_version": "familymatch 0.1.0",
            "config": config.format(rules=stats.get("blocking_rules", "?"))
            + (
                " with household guards"
                if stats.get("household_guards")
                else " without household guards, wider blocking (FEBRL)"
            ),
            **{k: m[k] for k in ("tp", "fp", "fn", "predicted_pairs", "true_pairs") if k in m},
            # per-rule candidate pairs, per-stage peak memory and CPU seconds (all threads: the
            # steadier figure on a shared machine), when the script gives them
            **{
                k: stats[k]
                for k in ("blocking", "link_peak_rss_mb", "link_cpu_s", "cpu_seconds_total")
                if k in stats
            },
        }
    )


def main() -> None:
    run_adapter(
        "familymatch",
        "link_dataset.py",
        "identifier passes + {rules} blocking rules + multi-level Fellegi-Sunter (EM, term "
        "frequencies) + pair rules + guarded clustering",
    )


if __name__ == "__main__":
    main()
