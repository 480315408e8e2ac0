"""Splink 5 as a peer on a generated council's period-1 extracts: person F1 beside ours.

    HARNESS/.venv/bin/python bench/splink_profile.py DIR [--threshold 0.5]

Runs under the shared harness's venv (a copy of ../shared/bench with its .venv, where Splink
is installed; found from the interpreter's prefix, or ``--harness``), never in the project's
dependencies. The project's own venv does the reading and the scoring, as child processes of
bench/profile_records.py: every source of DIR/familymatch.toml read with our ingest into
canonical records (reading, not linking), and the clusters scored against
DIR/truth/records.parquet exactly as ``familymatch link evaluate`` scores persons.

Set up as an analyst would in an hour, with nothing tuned against the truth, and as the
harness's run_splink.py is: the harness's tool-neutral clean-up (``common.standardise``); a
postcode written only at the end of the address text taken from it (a regular expression);
dedupe over all sources together; comparisons NameComparison(forename), NameComparison(surname)
(term frequencies), DateOfBirthComparison(dob), one combined location comparison (postcode +
address: same postcode and address JW >= 0.9 / same postcode / address JW >= 0.95 / same sector
/ same district / else), ExactMatch(sex); the harness's six blocking rules; probability two
random records match from forename+surname+dob at recall 0.7, u by random sampling (1e7 pairs),
m by EM blocked on forename+surname and on dob; predict and cluster at match probability 0.5.

Prints one JSON line: person precision / recall / F1, records, candidate pairs, seconds (read;
Splink = train + predict + cluster).
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
UK_POSTCODE_AT_END = r"[, ]+([A-Za-z]{1,2}[0-9][A-Za-z0-9]? ?[0-9][A-Za-z]{2})\s*$"
UK_SECTOR = "^[A-Za-z]{1,2}[0-9][A-Za-z0-9]? [0-9]"
UK_DISTRICT = "^[A-Za-z]{1,2}[0-9][A-Za-z0-9]?"


def project_step(*args: str) -> str:
    """Run bench/profile_records.py in the project's venv; its stdout."""
    cmd = [str(REPO / ".venv" / "bin" / "python"), str(REPO / "bench" / "profile_records.py")]
    done = subprocess.run([*cmd, *args], check=True, cwd=REPO, capture_output=True, text=True)
    return done.stdout


def postcode_from_text(df: pd.DataFrame) -> pd.DataFrame:
    """Where a source has no postcode column, the postcode at the end of its address text."""
    found = df["address"].astype("string").str.extract(UK_POSTCODE_AT_END, expand=False)
    out = df.copy()
    out["postcode"] = df["postcode"].astype("string").fillna(found)
    out["address"] = df["address"].astype("string").str.replace(UK_POSTCODE_AT_END, "", regex=True)
    return out


def splink_clusters(df: pd.DataFrame, threshold: float) -> tuple[pd.DataFrame, int]:
    """rec_id, cluster_id for every record; and the number of candidate pairs."""
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import ColumnExpression, DuckDBAPI, Linker, SettingsCreator, block_on

    pc = ColumnExpression("postcode")
    location = cl.CustomComparison(
        [
            cll.And(cll.NullLevel("postcode"), cll.NullLevel("address")),
            cll.And(cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("address", 0.9)),
            cll.ExactMatchLevel("postcode"),
            cll.JaroWinklerLevel("address", 0.95),
            cll.ExactMatchLevel(pc.regex_extract(UK_SECTOR)),
            cll.ExactMatchLevel(pc.regex_extract(UK_DISTRICT)),
            cll.ElseLevel(),
        ],
        output_column_name="location",
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="rec_id",
        comparisons=[
            cl.NameComparison("forename"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            location,
            cl.ExactMatch("sex"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("forename", "surname"),
            block_on("dob", "sn1"),
            block_on("dob", "fn1"),
            block_on("postcode", "fn1"),
            block_on("postcode", "dob_year"),
            block_on("address"),
        ],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(df), settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("forename", "surname", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("forename", "surname"), max_pairs=5e6
    )
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), max_pairs=5e6
    )
    pred = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        pred, threshold_match_probability=threshold
    )
    out = clusters.as_pandas_dataframe()[["rec_id", "cluster_id"]]
    blocked = linker.inference.compute_blocked_pairs_for_predict()
    count = f"select count(*) from {blocked.physical_name}"
    n_pairs = db_api._execute_sql_against_backend(count).fetchall()[0][0]
    return out, int(n_pairs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("dir", type=Path, help="a generated council (its familymatch.toml, truth/)")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--harness", type=Path, default=Path(sys.prefix).parent)
    a = ap.parse_args()
    sys.path.insert(0, str(a.harness))
    from common import standardise  # the harness's tool-neutral clean-up

    project_dir = a.dir.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        project_step("read", str(project_dir), str(Path(tmp, "records.parquet")))
        raw = pd.read_parquet(Path(tmp, "records.parquet"))
        t_read = time.perf_counter() - t

        t = time.perf_counter()
        df = standardise(postcode_from_text(raw), "uk")
        clusters, n_pairs = splink_clusters(df, a.threshold)
        t_splink = time.perf_counter() - t

        clusters.to_parquet(Path(tmp, "clusters.parquet"), index=False)
        scores = json.loads(
            project_step("score", str(project_dir), str(Path(tmp, "clusters.parquet")))
        )
    print(
        json.dumps(
            {
                "tool": "splink",
                "project": str(project_dir),
                "records": len(df),
                "candidate_pairs": n_pairs,
                "seconds_read": round(t_read, 1),
                "seconds_splink": round(t_splink, 1),
                "persons": {k: scores[k] for k in ("precision", "recall", "f1")},
            }
        )
    )


if __name__ == "__main__":
    main()
