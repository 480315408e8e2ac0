"""The out-of-core backend split into shards by postcode area and merged (harness adapter).

Rules on a location key, and dob+surname_initial, run within each postcode area only; the other
rules on names and dates of birth run across all areas (``outofcore.sharded_rules``): the candidate pairs, and so the quality, of
a national run split by council and merged. Copy beside run_fmduckdb.py and run_familymatch.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run_fmduckdb import main  # noqa: E402

if __name__ == "__main__":
    main("fmduckdb_shards", shards=True)
