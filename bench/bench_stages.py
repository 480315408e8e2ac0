"""Profile a whole build stage by stage: wall time and peak resident memory of each stage.

    .venv/bin/python bench/bench_stages.py --scale 1 3 10       # one child process per scale
    .venv/bin/python bench/bench_stages.py --scale 20 --stop-at-gb 16   # stopped at 16 GB
    .venv/bin/python bench/bench_stages.py --scale 1 --database-url postgresql+psycopg://...

For each scale the synthetic council is generated once into work/bench/stages_S (kept and
reused, so "before" and "after" read the same files; generation is timed apart, in its own
process), then built (`rules.build.build_cohort`, into a fresh SQLite file) in a child process of
its own, so one scale's memory never counts in another's.

Peak memory per stage is exact, not sampled: at every stage boundary the script reads the
process's high-water mark (VmHWM in /proc/self/status) and resets it (``5`` written to
/proc/self/clear_refs, Linux >= 4.0). The link stage's sub-stages (block, compare, fit, predict,
cluster) are timed by the link stage itself; their peaks come from a thread that samples VmRSS
every 20 ms, split by the sub-stages' times. The same thread stops the build (exit 3, the JSON
line says at which stage) when resident memory passes --stop-at-gb.

Output: one JSON line per scale on stdout, then a table on stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
STAGES = ("ingest", "standardise", "addresses", "link", "households", "rules", "record")
LINK_STAGES = ("block", "compare", "fit", "predict", "cluster")
SAMPLE_S = 0.02


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


class StageMeter:
    """Stage boundaries from the build's progress callback; peak memory per stage."""

    def __init__(self, stop_at_kb: int | None) -> None:
        self.stop_at_kb = stop_at_kb
        self.current = "start"
        self.started: dict[str, float] = {}
        self.cpu_started: dict[str, float] = {}
        self.cpu_s: dict[str, float] = {}  # CPU seconds of every thread: steady on a busy machine
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.end_mb: dict[str, float] = {}  # resident at the stage's end: what it left behind
        self.counts: dict[str, Any] = {}
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def start(self) -> None:
        _reset_peak()
        self._thread.start()

    def _sample(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            rss = _status_kb("VmRSS")
            self.samples.append((time.perf_counter(), rss))
            if self.stop_at_kb is not None and rss > self.stop_at_kb:
                self._give_up(rss)

    def _give_up(self, rss: int) -> None:
        doc = {"stopped_at": self.current, "rss_mb": round(rss / 1024), "seconds": self.seconds}
        print(json.dumps(doc), flush=True)
        os._exit(3)

    def _close(self, stage: str) -> None:
        if stage in self.started and stage not in self.seconds:
            self.seconds[stage] = time.perf_counter() - self.started[stage]
            self.cpu_s[stage] = time.process_time() - self.cpu_started[stage]
            self.peak_mb[stage] = round(_status_kb("VmHWM") / 1024)
            self.end_mb[stage] = round(_status_kb("VmRSS") / 1024)
            _reset_peak()

    def __call__(self, event: Any) -> None:
        """The build's progress callback: a stage name (the old form) or a StageEvent."""
        stage = event if isinstance(event, str) else event.stage
        done = False if isinstance(event, str) else event.done
        if not isinstance(event, str) and event.count is not None:
            self.counts[f"{stage}_{event.unit}"] = event.count
        if done:
            self._close(stage)
            return
        if stage != self.current:
            self._close(self.current)
        self.current = stage
        self.started.setdefault(stage, time.perf_counter())
        self.cpu_started.setdefault(stage, time.process_time())

    def finish(self) -> None:
        self._close(self.current)
        self._stop.set()

    def window_peak_mb(self, start: float, end: float) -> float:
        inside = [kb for t, kb in self.samples if start <= t <= end]
        return round(max(inside, default=0) / 1024)


def _link_substages(meter: StageMeter, link_s: dict[str, float]) -> dict[str, Any]:
    """Each link sub-stage's seconds and sampled peak (windows laid end to end from the link
    stage's start; the set-up before blocking is folded into the first)."""
    out: dict[str, Any] = {}
    end = meter.started["link"] + meter.seconds["link"]
    t = end - link_s.get("total", meter.seconds["link"])
    for name in LINK_STAGES:
        s = link_s.get(name, 0.0)
        start = meter.started["link"] if name == LINK_STAGES[0] else t
        out[name] = {"s": round(s, 2), "peak_mb": meter.window_peak_mb(start, t + s)}
        t += s
    return out


def generate_once(scale: float) -> tuple[Path, float | None]:
    """The council at this scale (generated in a child process unless already there)."""
    out = ROOT / "work" / "bench" / f"stages_{scale:g}"
    if (out / "familymatch.toml").exists():
        return out, None
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    cli = [sys.executable, "-m", "cli", "fixtures", "generate"]
    cmd = [*cli, "--scale", f"{scale:g}", "--seed", "42", "--out", str(out)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return out, time.perf_counter() - t


def build_one(folder: Path, stop_at_gb: float | None) -> dict[str, Any]:
    """Build the council in ``folder`` in this process, measuring every stage."""
    from rules.build import build_cohort

    db = folder / "familymatch.db"
    for suffix in ("", "-wal", "-shm"):  # a fresh SQLite file (none with --database-url)
        if not os.environ.get("FAMILYMATCH_DATABASE_URL"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    meter = StageMeter(None if stop_at_gb is None else int(stop_at_gb * 1024 * 1024))
    meter.start()
    t = time.perf_counter()
    result = build_cohort(folder / "familymatch.toml", progress=meter)
    build_s = time.perf_counter() - t
    meter.finish()
    link = result.linked.link.stats
    cohort = result.summary["cohort"]
    return {
        "database": "postgresql" if os.environ.get("FAMILYMATCH_DATABASE_URL") else "sqlite",
        "records": result.linked.ingest.records.height,
        "build_s": round(build_s, 1),
        "peak_mb": max(meter.peak_mb.values()),
        "stages": {
            k: {
                "s": round(meter.seconds[k], 2),
                "peak_mb": meter.peak_mb[k],
                "end_mb": meter.end_mb[k],
                "cpu_s": round(meter.cpu_s[k], 2),
            }
            for k in STAGES
            if k in meter.seconds
        },
        "link_stages": _link_substages(meter, link["seconds"]),  # type: ignore[arg-type]
        "counts": {
            "records": result.linked.ingest.records.height,
            "rejects": result.linked.ingest.rejects.height,
            "addresses": result.linked.addresses.addresses.height,
            "candidate_pairs": link["candidate_pairs"],
            "kept_pairs": link["pairs_kept"],
            "persons": result.linked.link.persons["person_id"].n_unique(),
            "households": result.linked.households.households.height,
            "cohort": cohort.get("total"),
            **meter.counts,
        },
        # per rule: estimated pairs, pairs made, pairs no earlier rule found
        "blocking": link["blocking"],
        "record_tables_s": {
            k: round(v, 2) for k, v in getattr(result, "record_seconds", {}).items()
        },
        "cohort_by_combination": cohort.get("by_combination"),
    }


def table(rows: list[dict[str, Any]]) -> str:
    """Wall seconds (CPU seconds) / peak MB per stage, one column per scale."""
    head = "| stage | " + " | ".join(f"scale {r['scale']:g}: s (CPU s) / peak MB" for r in rows)
    head += " |"
    lines = [head, "|---|" + "---:|" * len(rows)]

    def cell(r: dict[str, Any], group: str, k: str) -> str:
        v = r.get(group, {}).get(k)
        if v is None:
            return "-"
        cpu = f" ({v['cpu_s']:.1f})" if "cpu_s" in v else ""
        return f"{v['s']:.1f}{cpu} / {v['peak_mb']:,}"

    for k in STAGES:
        lines.append(f"| {k} | " + " | ".join(cell(r, "stages", k) for r in rows) + " |")
        if k == "link":
            for sub in LINK_STAGES:
                cells = " | ".join(cell(r, "link_stages", sub) for r in rows)
                lines.append(f"| &nbsp; {sub} | {cells} |")
    build = " | ".join(f"{r.get('build_s', '-')} / {r.get('peak_mb', '-'):,}" for r in rows)
    lines.append(f"| **build** | {build} |")
    lines.append("| records | " + " | ".join(f"{r.get('records', 0):,}" for r in rows) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, nargs="+", default=[1.0])
    ap.add_argument("--stop-at-gb", type=float, default=None, help="stop a build past this RSS")
    ap.add_argument(
        "--database-url", help="record into this database (default: a fresh SQLite file)"
    )
    ap.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # child: build this folder
    ap.add_argument("--table", type=Path, help="print the table of a file of JSON lines")
    args = ap.parse_args()
    if args.table is not None:
        lines = args.table.read_text().splitlines()
        print(table([r for r in map(json.loads, lines) if "stages" in r]))
        return
    if args.database_url:  # the child builds read it (project.DATABASE_ENV); never printed
        os.environ["FAMILYMATCH_DATABASE_URL"] = args.database_url
    if args.one is not None:
        print(json.dumps(build_one(args.one, args.stop_at_gb)), flush=True)
        return
    rows = []
    for scale in args.scale:
        folder, gen_s = generate_once(scale)
        cmd = [sys.executable, __file__, "--one", str(folder)]
        if args.stop_at_gb is not None:
            cmd += ["--stop-at-gb", str(args.stop_at_gb)]
        child = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, cwd=ROOT)
        doc = json.loads(child.stdout.strip().splitlines()[-1])
        row = {"scale": scale, "generate_s": None if gen_s is None else round(gen_s, 1), **doc}
        print(json.dumps(row), flush=True)
        rows.append(row)
    print(table([r for r in rows if "stages" in r]), file=sys.stderr)


if __name__ == "__main__":
    main()
