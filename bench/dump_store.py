"""A fingerprint of every per-run table of a SQLite store: rows and a SHA-256 of its rows in
insertion order (rowid), to show two builds recorded the same thing.

    .venv/bin/python bench/dump_store.py work/record/before.db [work/record/after.db]

Prints one line per table (rows, sha256 prefix); with two files, the tables that differ, and
exits 1 if any does. The ``runs`` row is left out (its times and command line differ by
design); nothing personal is printed, only counts and hashes.
"""

from __future__ import annotations

import hashlib
import sqlite3
import sys

from familymatch.store import schema as s


def fingerprint(path: str) -> dict[str, tuple[int, str]]:
    """table -> (rows, sha256 of its rows in rowid order)."""
    out: dict[str, tuple[int, str]] = {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        for table in s.RUN_TABLES:
            digest, n = hashlib.sha256(), 0
            for row in conn.execute(f"SELECT * FROM {table.name} ORDER BY rowid"):
                digest.update(repr(row).encode())
                n += 1
            out[table.name] = (n, digest.hexdigest()[:16])
    return out


def main(paths: list[str]) -> int:
    prints = [fingerprint(p) for p in paths]
    differ = 0
    for name, (rows, sha) in prints[0].items():
        other = prints[-1][name]
        mark = "" if other == (rows, sha) else f"  DIFFERS: {other[0]} rows, {other[1]}"
        differ += bool(mark)
        print(f"{name:20} {rows:>10,} {sha}{mark}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
