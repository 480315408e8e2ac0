"""Candidate pairs per blocking rule on a council folder, before any pair is made.

    .venv/bin/python bench/council_rule_pairs.py work/bench/stages_3 work/bench/stages_10

For each folder: its sources ingested and standardised (the build's own calls; no address
stage, so the address-entity rule is left out), then per rule of ``DEFAULT_RULES`` the
estimated pairs (sum over key groups of n(n-1)/2) and the largest block, and the same with the
postcode district and with the postcode area added to the rule's keys. One JSON line per folder;
comparing two scales shows which rules grow with the square of the records (docs/decisions/
0016-link-execution.md, session 5).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

from familymatch.ingest import ingest_project
from familymatch.link import link_keys
from familymatch.link.blocking import (
    DEFAULT_RULES,
    BlockingRule,
    group_ids,
    key_frame,
    rule_blocks,
    usable_rules,
)
from familymatch.project import load_project
from familymatch.standardise import standardise


def rule_figures(std, rule: BlockingRule) -> dict[str, int]:  # type: ignore[no-untyped-def]
    blocks = rule_blocks(*group_ids(key_frame(std, (rule,)), rule))
    return {"pairs": blocks.estimated, "largest": int(np.max(blocks.sizes, initial=0))}


def main() -> None:
    for folder in sys.argv[1:]:
        t = time.perf_counter()
        records = ingest_project(load_project(Path(folder) / "familymatch.toml")).records
        std = standardise(records).with_row_index("__i").with_columns(link_keys())
        out: dict[str, object] = {"folder": folder, "records": std.height}
        for rule in usable_rules(std, DEFAULT_RULES):
            row = {"plain": rule_figures(std, rule)}
            for place in ("pc_district", "pc_area"):
                if place not in rule.keys:
                    row[place] = rule_figures(std, BlockingRule(rule.name, (*rule.keys, place)))
            out[rule.name] = row
        out["seconds"] = round(time.perf_counter() - t, 1)
        print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
