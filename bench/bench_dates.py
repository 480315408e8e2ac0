"""Date parsing speed: rows per second for each mapping format, polars expressions against
Python's per-row ``datetime.strptime`` (the alternative the ingest decision weighed).

    .venv/bin/python bench/bench_dates.py [ROWS]        # default 1,000,000

One JSON line per format: rows, seconds, rows per second, share parsed.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

from familymatch.ingest.fields import parse_dates

REFERENCE = date(2012, 6, 1)
WRITERS = {
    "dd/mm/yyyy": lambda d: d.strftime("%d/%m/%Y"),
    "dd/mm/yy": lambda d: d.strftime("%d/%m/%y"),
    "long": lambda d: d.strftime("%-d %B %Y"),
    "%d %B %Y": lambda d: d.strftime("%d %B %Y"),
    "excel": lambda d: str((d - date(1899, 12, 30)).days),
}


def sample(rows: int, fmt: str) -> pl.Series:
    rng = np.random.default_rng(1)
    offsets = rng.integers(0, 365 * 60, size=2000)
    texts = [WRITERS[fmt](date(1950, 1, 1) + timedelta(days=int(o))) for o in offsets]
    return pl.Series("v", texts * (rows // len(texts)))


def time_polars(values: pl.Series, fmt: str) -> tuple[float, float]:
    century = "past" if fmt in ("dd/mm/yy", "long") else None
    t = time.perf_counter()
    out = values.to_frame().select(parse_dates(pl.col("v"), (fmt,), century, REFERENCE))
    parsed = out.to_series().is_not_null()
    return time.perf_counter() - t, int(parsed.sum()) / parsed.len()


def time_python(values: pl.Series) -> float:
    t = time.perf_counter()
    for v in values.to_list():
        datetime.strptime(v, "%d/%m/%Y")
    return time.perf_counter() - t


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for fmt in WRITERS:
        values = sample(rows, fmt)
        seconds, share = time_polars(values, fmt)
        line = {"format": fmt, "engine": "polars", "rows": values.len(), "seconds": seconds}
        print(json.dumps(line | {"rows_per_s": round(values.len() / seconds), "parsed": share}))
    values = sample(rows, "dd/mm/yyyy")
    seconds = time_python(values)
    line = {"format": "dd/mm/yyyy", "engine": "python strptime", "rows": values.len()}
    print(json.dumps(line | {"seconds": seconds, "rows_per_s": round(values.len() / seconds)}))


if __name__ == "__main__":
    main()
