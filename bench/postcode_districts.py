"""Issue 15's scale-20 shortfall reproduced at a small scale: one council built twice, once with
its postcode districts written as the generator wrote them past 99 districts ("PL100 1AB": no
UK postcode) and once as it writes them now (docs/decisions/0007-addresses.md, last section).

    .venv/bin/python bench/postcode_districts.py [--scale 0.2] [--out work/bench/districts]

Prints, per variant, the build's cohort by combination, the planted one and how the address
stage resolved the records. Both councils come from one seed: only the postcodes differ.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import fixtures.population as population
from fixtures.generate import generate

VARIANTS = {
    "three-digit": lambda d: f"PL{d + 99}",  # the old generator's districts 100 and on
    "generator": population.district_code,
}


def build(folder: Path) -> dict[str, object]:
    cli = [sys.executable, "-m", "cli", "cohort", "build", "-p", str(folder / "familymatch.toml")]
    done = subprocess.run([*cli, "--json"], check=True, capture_output=True, text=True)
    doc: dict[str, object] = json.loads(done.stdout)
    return doc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.2)
    ap.add_argument("--out", type=Path, default=Path("work/bench/districts"))
    args = ap.parse_args()
    for name, code in VARIANTS.items():
        folder = args.out / name
        shutil.rmtree(folder, ignore_errors=True)
        population.district_code = code  # read by _postcode_units at each call
        summary = generate(folder, scale=args.scale, seed=42)
        doc = build(folder)
        cohort = doc["cohort"]["by_combination"]  # type: ignore[index]
        print(f"{name}: cohort {json.dumps(cohort, sort_keys=True)}")
        print(f"  planted {json.dumps(summary.combinations, sort_keys=True)}")
        print(f"  addresses {json.dumps(doc['addresses'], sort_keys=True)}")


if __name__ == "__main__":
    main()
