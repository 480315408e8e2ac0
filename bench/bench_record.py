"""The record stage alone: one build's frames recorded into fresh SQLite files, CPU per table.

    .venv/bin/python bench/bench_record.py work/bench/stages_1            # twice, the same frames
    .venv/bin/python bench/bench_record.py work/bench/stages_3 --times 1
    PYTHONPATH=/path/to/worktree .venv/bin/python bench/bench_record.py ...   # another commit

The council in the folder (e.g. one `bench_stages.py` generated) is built once in this process
(ingest to rules, not recorded); then the frames `cohort build` records are written through
`recording_run` into a fresh SQLite file under work/bench/record/, ``--times`` times. Prints one
JSON line per recording: CPU seconds of the whole recording and of ``bulk_insert`` per table
(steady on a busy machine, unlike wall seconds), wall seconds, rows per table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import familymatch.store.writer as writer
from familymatch.pipeline import link_project
from familymatch.project import load_project
from familymatch.store import open_store, recording_run
from rules.build import queue_frames
from rules.engine import evaluate
from rules.ruleset import load_rule_set
from rules.terms import project_calendar

CPU: dict[str, float] = {}
_bulk_insert = writer.bulk_insert


def _timed_insert(conn: Any, table: Any, frame: Any, run_id: int | None = None) -> int:
    start = time.thread_time()  # on the run's writer thread
    n = _bulk_insert(conn, table, frame, run_id)
    CPU[table.name] = CPU.get(table.name, 0.0) + time.thread_time() - start
    return n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--times", type=int, default=2)
    args = ap.parse_args()
    project = load_project(args.folder / "familymatch.toml")
    linked = link_project(project)
    rule_set = load_rule_set(project.rule_set, base=project.folder)
    ev = evaluate(
        rule_set,
        linked.std,
        linked.membership,
        project.reference_date,
        apart_parents=linked.households.apart_parents,
        calendar=project_calendar(project.terms),
    )
    writer.bulk_insert = _timed_insert
    db = Path("work/bench/record/record.db")
    db.parent.mkdir(parents=True, exist_ok=True)
    for _ in range(args.times):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
        store = open_store(f"sqlite:///{db.resolve()}")
        CPU.clear()
        cpu, wall = time.process_time(), time.perf_counter()
        with recording_run(store, "build") as run:
            queue_frames(run, linked, ev, True)
        doc = {
            "cpu_s": round(time.process_time() - cpu, 2),
            "wall_s": round(time.perf_counter() - wall, 1),
            "cpu_s_by_table": {k: round(v, 2) for k, v in CPU.items()},
            "rows": run.rows,
        }
        print(json.dumps(doc), flush=True)
        store.engine.dispose()


if __name__ == "__main__":
    main()
