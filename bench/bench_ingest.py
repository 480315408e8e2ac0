"""Ingest speed: rows per second reading and mapping every source of a project.

    .venv/bin/python bench/bench_ingest.py work/bench/scale_10/familymatch.toml [more.toml ...]

One JSON line per project file: rows read, person records, rejected rows, seconds, rows per
second, and the rows of each source.
"""

from __future__ import annotations

import json
import sys
import time

from familymatch.ingest import ingest_project
from familymatch.project import load_project


def main() -> None:
    for path in sys.argv[1:]:
        project = load_project(path)
        t = time.perf_counter()
        result = ingest_project(project)
        seconds = time.perf_counter() - t
        rows = sum(s.rows_read for s in result.stats)
        print(
            json.dumps(
                {
                    "project": path,
                    "rows": rows,
                    "records": result.records.height,
                    "rows_rejected": int(result.rejects["row"].n_unique())
                    if result.rejects.height
                    else 0,
                    "seconds": round(seconds, 2),
                    "rows_per_second": round(rows / seconds),
                    "by_source": {s.source: s.rows_read for s in result.stats},
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
