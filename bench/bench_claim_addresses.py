"""Person and household F1 with and without a claim's address carried to its dependants' rows.

    .venv/bin/python bench/bench_claim_addresses.py DIR [DIR ...]

DIR is a generated council (`familymatch fixtures generate --profile NAME`, or the
bench_profiles directories under work/bench/profiles/). For each it runs the core pipeline
(`familymatch.pipeline.link_project`) twice on the same extracts, once as built and once with
`with_claim_addresses` switched off, and prints how many records took their claim's address and
person / household F1 against DIR/truth for both.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

import polars as pl

import familymatch.pipeline as pipeline
from familymatch.addresses.claims import claim_addresses
from familymatch.link.evaluate import evaluate_links, read_truth
from familymatch.project import load_project


def scores(out: Path, carry: Callable[[pl.DataFrame], pl.DataFrame]) -> tuple[int, str]:
    pipeline.with_claim_addresses = carry  # type: ignore[attr-defined]
    linked = pipeline.link_project(load_project(out / "familymatch.toml"))
    s = evaluate_links(linked.membership, read_truth(out / "truth"))
    taken = claim_addresses(linked.std).height
    return taken, f"person F1 {s['persons']['f1']:.4f}  household F1 {s['households']['f1']:.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dirs", nargs="+", type=Path)
    args = parser.parse_args()
    carry = pipeline.with_claim_addresses  # type: ignore[attr-defined]
    for out in args.dirs:
        _, off = scores(out, lambda std: std)
        taken, on = scores(out, carry)
        print(f"{out.name}: {taken} records take their claim's address; without: {off}; with: {on}")


if __name__ == "__main__":
    main()
