"""familymatch's out-of-core backend (DuckDB) as a harness adapter: ``run_fmduckdb.py DATASET``.

Copy or symlink this file and bench/run_familymatch.py (whose runner it uses) into the harness
folder. It runs bench/link_national.py in the project's environment (FAMILYMATCH_REPO) as a
child process: records staged and standardised a million at a time, blocking, comparison levels
and clustering batches held by DuckDB on disk under a memory limit (FMDUCKDB_MEMORY_MB, default
2000). seconds_total = stage + load + block + compare + fit + predict + cluster;
seconds_predict = compare + predict + cluster. Peak RSS includes the child.
run_fmduckdb_shards.py is the same with the location rules inside postcode areas (shards).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path.cwd()))  # the harness runs adapters from its own folder
sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_familymatch import run_adapter  # noqa: E402


def main(tool: str = "fmduckdb", shards: bool = False) -> None:
    sharding = ", location rules and dob+surname_initial within postcode areas" if shards else ""
    run_adapter(
        tool,
        "link_national.py",
        "familymatch's {rules} blocking rules, levels, EM and guards on DuckDB out of core "
        f"(EM on a sample of 5M candidate pairs{sharding})",
        ["--memory-mb", os.environ.get("FMDUCKDB_MEMORY_MB", "2000")]
        + (["--shards"] if shards else []),
    )


if __name__ == "__main__":
    main()
