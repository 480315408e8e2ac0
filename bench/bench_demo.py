"""Where the demo's time goes: wall and CPU seconds of every step of `familymatch demo`.

    .venv/bin/python bench/bench_demo.py --scale 0.2                # four yearly refreshes
    .venv/bin/python bench/bench_demo.py --scale 0.2 --half-yearly  # the seven of the slow test

Runs the demo into work/bench/demo_S (a fresh folder) with its output discarded, timing each
call of the functions the demo is made of (the first extracts by part, each build by stage,
attachments, claims, cohort diff, forecast, the score against the
truth) by wrapping them where the demo modules imported them; the later parts of the council are
written by a second process (fixtures/background.py), and each refresh's outcome import (beside
its build), cohort diff and allocation by a worker (fixtures/demo_reads.py): seen here as the
time the demo waits for them,
and in the total CPU. Prints one line per call as it ends, then the totals per step, the
whole run's wall and CPU seconds (this process and the second), the load average before and
after, and this process's peak resident memory.
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


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _children_cpu() -> float:
    """CPU seconds of ended child processes (the generator's second process)."""
    t = os.times()
    return t.children_user + t.children_system


def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        w, c = time.perf_counter(), _cpu()
        result = fn(*args, **kwargs)
        wall, cpu = time.perf_counter() - w, _cpu() - c
        total = TOTALS[name]
        total[0] += wall
        total[1] += cpu
        total[2] += 1
        print(f"{name:<28} {wall:7.1f} s wall {cpu:7.1f} s CPU{_detail(result)}", flush=True)
        return result

    return wrapper


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
    import fixtures.background as background
    import fixtures.demo_timeline as timeline
    import fixtures.generate as gen
    import fixtures.timeline as tl

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
        (timeline, "collect", "wait for the worker"),
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--half-yearly", action="store_true", help="seven refreshes, not four")
    args = ap.parse_args()
    from rich.console import Console

    instrument()
    from fixtures.demo import run_demo

    out = ROOT / "work" / "bench" / f"demo_{args.scale}"
    shutil.rmtree(out, ignore_errors=True)
    load_before = os.getloadavg()
    w, c, cc = time.perf_counter(), _cpu(), _children_cpu()
    console = Console(file=io.StringIO(), width=200)
    run_demo(out, args.scale, args.seed, console, args.half_yearly)
    wall, cpu, child = time.perf_counter() - w, _cpu() - c, _children_cpu() - cc
    print("--- totals")
    for name, (tw, tc, n) in sorted(TOTALS.items(), key=lambda kv: -kv[1][0]):
        print(f"{name:<28} {tw:7.1f} s wall {tc:7.1f} s CPU  x{n}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(
        f"whole demo: {wall:.1f} s wall, {cpu + child:.1f} s CPU ({cpu:.1f} in this process, "
        f"{child:.1f} in the generator's second process), peak RSS {peak:,} MB; load average "
        f"{load_before[0]:.2f} before, {os.getloadavg()[0]:.2f} after"
    )


if __name__ == "__main__":
    main()
