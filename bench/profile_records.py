"""A council's extracts as the shared harness's source format, and person scores against its
truth: the project-side half of bench/splink_profile.py (which runs under the harness's venv).

    .venv/bin/python bench/profile_records.py read  DIR OUT.parquet
    .venv/bin/python bench/profile_records.py score DIR CLUSTERS.parquet

``read``: every source of DIR/familymatch.toml read with our ingest into canonical records (that
is reading, not linking), written as the harness's columns: rec_id (= record_id), source,
forename, surname, dob (YYYY-MM-DD), sex (M / F, codes mapped),
address, postcode (owner-only
file). ``score``: CLUSTERS (rec_id, cluster_id) scored against DIR/truth/records.parquet with
``familymatch.link.evaluate.pairwise_scores``, as ``familymatch link evaluate`` scores persons;
one JSON line on stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import polars as pl

from familymatch.ingest import ingest_project
from familymatch.link.evaluate import pairwise_scores
from familymatch.outputs import write_owner_only
from familymatch.project import load_project
from familymatch.standardise import SEX_CODES


def read(project_dir: Path, out: Path) -> None:
    records = ingest_project(load_project(project_dir / "familymatch.toml")).records
    frame = records.select(
        pl.col("record_id").alias("rec_id"),
        "source",
        "forename",
        "surname",
        pl.col("dob").dt.strftime("%Y-%m-%d").alias("dob"),
        # the source's sex codes mapped to M / F, as an analyst would (1/2, Male/Female)
        pl.col("sex")
        .str.strip_chars()
        .str.to_uppercase()
        .replace_strict(SEX_CODES, default=None, return_dtype=pl.String),
        "address",
        "postcode",
    )
    write_owner_only(out, frame.write_parquet)


def score(project_dir: Path, clusters: Path) -> None:
    truth = pl.read_parquet(project_dir / "truth" / "records.parquet")
    predicted = pl.read_parquet(clusters).select(
        pl.col("rec_id").alias("record_id"), pl.col("cluster_id").cast(pl.String).alias("predicted")
    )
    actual = truth.select("record_id", pl.col("person_id").alias("actual"))
    print(json.dumps(pairwise_scores(predicted, actual)))


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[1] not in ("read", "score"):
        sys.exit(__doc__)
    command, project_dir, path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    (read if command == "read" else score)(project_dir, path)


if __name__ == "__main__":
    main()
