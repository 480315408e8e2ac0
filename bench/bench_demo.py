"""Where the demo's time goes: wall and CPU seconds of every step of `familymatch demo`.

    .venv/bin/python bench/bench_demo.py --scale 0.2                # four yearly refreshes
    .venv/bin/python bench/bench_demo.py --scale 0.2 --half-yearly  # the seven of the slow test

Runs the demo into work/bench/demo_S (a fresh folder) with its output discarded, timing each
call of the functions the demo is made of (the first extracts by part, each build by stage,
attachments, claims, forecast, the score against the truth) by wrapping them where the demo
modules imported them, and each step of the two workers (fixtures/demo_reads.py: outcome
imports and allocations; people and cohort diffs) in the workers themselves; the later parts of
the council are written by a second process (fixtures/background.py), seen as the time the demo
waits for it and in the total CPU.

Prints one line per call as it ends, on one clock for all processes (seconds since the start:
``[process] start-end step``), then the totals per process and step. The demo's own process is
the critical path: its steps and its waits (for a worker's result, for the lines waiting on a
diff, for the second process) add up to the demo's wall time. Then the whole run's wall and CPU
seconds (every process), the load average before and after, and this process's peak resident
memory.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOTALS: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
T0 = "BENCH_DEMO_T0"  # the clock's zero, for the workers (environment)
STEPS = "BENCH_DEMO_STEPS"  # the file the workers add their steps' figures to (environment)
WHO = ["main"]  # which process prints


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _children_cpu() -> float:
    """CPU seconds of ended child processes (the generator's second process)."""
    t = os.times()
    return t.children_user + t.children_system


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        w, c = time.time(), _cpu()
        result = fn(*args, **kwargs)
        wall, cpu = time.time() - w, _cpu() - c
        total = TOTALS[name]
        total[0] += wall
        total[1] += cpu
        total[2] += 1
        zero = float(os.environ[T0])
        if WHO[0] != "main":
            with open(os.environ[STEPS], "a", encoding="utf-8") as steps:
                steps.write(f"{WHO[0]}\t{name}\t{wall}\t{cpu}\n")
        print(
            f"[{WHO[0]:<7}] {w - zero:6.1f}-{w + wall - zero:6.1f} {name:<28} {wall:6.1f} s wall "
            f"{cpu:6.1f} s CPU{_detail(result)}",
            flush=True,
        )
        return result

    return wrapper


def _outermost() -> float:
    """Wall seconds of the timed steps that no other timed step holds (the first extracts'
    parts are inside "generate: first (all)")."""
    return sum(
        tw
        for name, (tw, _, _) in TOTALS.items()
        if not name.startswith("generate: ") or name == "generate: first (all)"
    )


def _detail(result: Any) -> str:
    """A build's seconds by stage, an outcome import's by step."""
    seconds = getattr(result, "seconds", None)
    if isinstance(result, list) and result and hasattr(result[0], "seconds"):
        return "  " + "; ".join(
            f"onto {r.build_run}: " + ", ".join(f"{k} {v:.1f}" for k, v in r.seconds.items())
            for r in result
        )
    if isinstance(seconds, dict):
        tables = sorted(getattr(result, "record_seconds", {}).items(), key=lambda kv: -kv[1])
        record = "; record " + ", ".join(f"{k} {v:.1f}" for k, v in tables[:4]) if tables else ""
        return "  " + ", ".join(f"{k} {v:.1f}" for k, v in seconds.items()) + record
    return ""


def instrument() -> None:
    """Wrap the demo's steps where the demo modules look them up."""
    import importlib.util

    import fixtures.background as background
    import fixtures.demo_reads as reads
    import fixtures.demo_timeline as timeline
    import fixtures.generate as gen
    import fixtures.timeline as tl

    ordered = importlib.util.find_spec("fixtures.demo_lines")  # None before the lines waited
    lines = importlib.import_module("fixtures.demo_lines") if ordered else None

    wraps: list[tuple[Any, str, str]] = [
        (gen, "plant", "generate: plant"),
        (gen, "write_all", "generate: extracts"),
        (gen, "write_truth", "generate: truth"),
        (gen, "make_period2", "generate: period 2 plant"),
        (gen, "write_period2", "generate: period 2 write"),
        (gen, "make_timeline", "generate: timeline plant"),
        (gen, "write_timeline", "generate: timeline write"),
        (gen, "record_truth", "generate: record truth"),
        (tl, "write_all", "timeline: extracts"),
        (tl, "write_employment", "timeline: employment"),
        (timeline, "write_first", "generate: first (all)"),
        (background.LaterParts, "wait", "wait for the second process"),
        (timeline, "build_cohort", "build"),
        (timeline, "collect", "wait for the imports worker"),
        (getattr(lines, "Lines", None), "drain", "wait for the last diff"),
        (timeline, "import_outcomes", "outcomes import"),
        (timeline, "claim_and_submit", "claim, sign off, submit"),
        (timeline, "select_and_list", "selection and lists"),
        (timeline, "attach_rows", "attach"),
        (timeline, "build_lines", "score first build"),
        (timeline, "forecast_from_store", "forecast"),
        (timeline, "against_truth", "score against truth"),
    ]
    for module, attr, name in wraps:
        if hasattr(module, attr):
            setattr(module, attr, timed(name, getattr(module, attr)))
    if hasattr(reads, "_worker"):
        reads._worker = _timed_worker  # type: ignore[attr-defined]


WORKER_STEPS = (
    ("outcomes", "outcomes import"),
    ("allocation_rows", "allocation"),
    ("keep_people", "people of a build"),
    ("diff_counts", "cohort diff"),
    ("score", "score against truth"),
)


def _timed_worker(lower: bool = False) -> Any:
    """fixtures.demo_reads._worker, its steps timed in the worker."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    import fixtures.demo_reads as reads

    name = "diffs" if lower else "imports"
    pool = ProcessPoolExecutor(
        max_workers=1,
        mp_context=mp.get_context("spawn"),
        initializer=_worker_init,
        initargs=(name, lower),
    )
    pool.submit(reads._started)
    return pool


def _worker_init(name: str, lower: bool) -> None:
    """In a worker: its priority as the demo sets it, and its steps timed."""
    import fixtures.demo_reads as reads

    WHO[0] = name
    if lower:
        reads._lower_priority()  # type: ignore[attr-defined]
    for attr, step in WORKER_STEPS:
        if hasattr(reads, attr):
            setattr(reads, attr, timed(step, getattr(reads, attr)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--half-yearly", action="store_true", help="seven refreshes, not four")
    ap.add_argument("--printed", type=Path, help="write what the demo printed to this file")
    args = ap.parse_args()
    from rich.console import Console

    instrument()
    from fixtures.demo import run_demo

    out = ROOT / "work" / "bench" / f"demo_{args.scale}"
    shutil.rmtree(out, ignore_errors=True)
    load_before = os.getloadavg()
    os.environ[T0] = str(time.time())
    steps = out.parent / f"demo_{args.scale}.steps.tsv"
    steps.parent.mkdir(parents=True, exist_ok=True)
    steps.write_text("", encoding="utf-8")
    os.environ[STEPS] = str(steps)
    w, c, cc = time.perf_counter(), _cpu(), _children_cpu()
    console = Console(file=io.StringIO(), width=200)
    run_demo(out, args.scale, args.seed, console, args.half_yearly)
    wall, cpu, child = time.perf_counter() - w, _cpu() - c, _children_cpu() - cc
    if args.printed:  # to compare two trees' output (its folder named by the tree: same length)
        args.printed.write_text(console.file.getvalue(), encoding="utf-8")  # type: ignore[attr-defined]
    print("--- totals of the demo's own process (its critical path: steps and waits)")
    for name, (tw, tc, n) in sorted(TOTALS.items(), key=lambda kv: -kv[1][0]):
        print(f"{name:<28} {tw:7.1f} s wall {tc:7.1f} s CPU  x{n}")
    print(f"{'(between the steps timed)':<28} {wall - _outermost():7.1f} s wall")
    print("--- totals of the workers (beside the demo's process)")
    workers: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for line in steps.read_text(encoding="utf-8").splitlines():
        who, name, sw, sc = line.split("\t")
        total = workers[(who, name)]
        total[0] += float(sw)
        total[1] += float(sc)
        total[2] += 1
    for (who, name), (tw, tc, n) in sorted(workers.items()):
        print(f"[{who:<7}] {name:<18} {tw:7.1f} s wall {tc:7.1f} s CPU  x{n}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"whole demo: {wall:.1f} s wall, {cpu + child:.1f} s CPU ({cpu:.1f} in this process, "
        f"{child:.1f} in the others: the generator's second process and the workers), peak RSS "
        f"{peak:,} MB (this process); load average "
        f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
