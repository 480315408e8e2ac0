"""Measure every council profile against its truth: one line per profile.

    .venv/bin/python bench/bench_profiles.py [--scale 1] [--seed 42] [--gazetteer with|without] [PROFILE ...]

For each profile (default: default and every profile of fixtures/profiles/catalogue.py) it
generates the council into work/bench/profiles/NAME-SCALE/ (git-ignored), then runs, as a
coordinator would,

    familymatch cohort build -p DIR/familymatch.toml --json
    familymatch link evaluate --truth DIR/truth -p DIR/familymatch.toml --json

and prints person / household / address F1 and the phase-1 cohort found beside the planted
count per combination, with the worst combination's relative error. ``--gazetteer with`` /
``without`` names lookups/gazetteer.csv in the project file or leaves it out (default: as the
profile writes it). Progress goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from fixtures.facts import PLYMOUTH
from fixtures.generate import generate
from fixtures.profiles.addresses import set_gazetteer
from fixtures.profiles.catalogue import PROFILES

CLI = str(Path(sys.executable).parent / "familymatch")


def familymatch(*args: str) -> dict[str, object]:
    done = subprocess.run([CLI, *args, "--json"], capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"familymatch {' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def measure(name: str, scale: float, seed: int, gazetteer: str | None = None) -> str:
    out = Path("work/bench/profiles") / f"{name}-{scale:g}{'-' + gazetteer if gazetteer else ''}"
    shutil.rmtree(out, ignore_errors=True)
    t = time.perf_counter()
    generate(out, scale=scale, seed=seed, profile=name)
    t_gen = time.perf_counter() - t
    print(f"{name}: generated in {t_gen:.1f} s; building", file=sys.stderr)
    if gazetteer:
        set_gazetteer(out / "familymatch.toml", on=gazetteer == "with")
    toml = str(out / "familymatch.toml")
    t = time.perf_counter()
    built = familymatch("cohort", "build", "-p", toml)
    t_build = time.perf_counter() - t
    scores = familymatch("link", "evaluate", "--truth", str(out / "truth"), "-p", toml)
    planted = json.loads((out / "truth" / "expected.json").read_text())["phase1"]
    found = built["cohort"]["by_combination"]  # type: ignore[index]
    combos = []
    worst = 0.0
    for combo in PLYMOUTH:
        p, f = planted["cohort_by_combination"][combo], found.get(combo, 0)
        worst = max(worst, abs(f - p) / p)
        combos.append(f"{combo} {f}/{p}")
    f1 = {k: v["f1"] for k, v in scores.items()}  # type: ignore[index]
    return (
        f"{name:12s} scale {scale:g}{' ' + gazetteer + ' gazetteer' if gazetteer else ''}: person F1 {f1['persons']:.4f}  household F1 "
        f"{f1['households']:.4f}  address F1 {f1.get('addresses', float('nan')):.4f}  cohort "
        f"{built['cohort']['total']}/{planted['cohort_total']} ({', '.join(combos)}; worst "  # type: ignore[index]
        f"{worst:.1%})  generate {t_gen:.1f} s  build {t_build:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("profiles", nargs="*", default=["default", *PROFILES])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--gazetteer", choices=["with", "without"], default=None)
    args = parser.parse_args()
    for name in args.profiles:
        print(measure(name, args.scale, args.seed, args.gazetteer), flush=True)


if __name__ == "__main__":
    main()
