"""Benchmark attachment, outcomes and a claim on the synthetic council: one JSON line per scale.

    .venv/bin/python bench/bench_claims.py 1          # scales to run (default: 1)

For each scale: generate, build, fill the allocation with the planted attachments, attach,
import the second period's outcomes, then time `claims prepare` (decide, record, write the
workbook) and `claims verify` (read back, re-derive, compare), and score the claimed families
against the planted results. Figures go to stdout; progress to stderr. Work folders under
work/bench/ (git-ignored).
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from datetime import date
from pathlib import Path

from claims.attach import check_allocation, read_allocation, write_allocation_template
from claims.framework import load_framework
from claims.outcomes import import_outcomes
from claims.prepare import prepare_claim
from claims.records import cohort_families, family_refs, read_attachments, record_attachments
from claims.verify import verify_claim
from claims.workbook import read_claim_workbook, write_claim_workbook
from familymatch.project import load_project
from familymatch.store import open_store
from fixtures.allocation import fill_allocation, score_claim
from fixtures.generate import generate
from fixtures.period2 import R2
from rules.build import build_cohort


def run(scale: float) -> dict[str, object]:
    out = Path("work/bench") / f"claims_{scale:g}"
    shutil.rmtree(out, ignore_errors=True)
    generate(out, scale=scale, seed=42)
    build = build_cohort(out / "familymatch.toml")
    print(f"built scale {scale:g}: cohort {build.summary['cohort']['total']}", file=sys.stderr)
    store = open_store(load_project(out / "familymatch.toml").database_url)
    template = out / "allocation.csv"
    write_allocation_template(cohort_families(store, build.run_id), template)
    fill_allocation(template, out / "filled.csv", store, build.run_id, out / "truth")
    t = time.perf_counter()
    check = check_allocation(
        read_allocation(out / "filled.csv"),
        cohort_families(store, build.run_id),
        family_refs(store, build.run_id),
        read_attachments(store).select("family_ref", "attached_on"),
        build.linked.reference_date,
        R2,
        "filled.csv",
    )
    record_attachments(store, build.run_id, check.rows, "filled.csv")
    t_attach = time.perf_counter() - t
    t = time.perf_counter()
    imported = import_outcomes(out / "familymatch_period2.toml", store)[0]
    t_import = time.perf_counter() - t
    fw = load_framework("phase1")
    t = time.perf_counter()
    claim = prepare_claim(store, fw, R2)
    wb = write_claim_workbook(
        out / "claim.xlsx", claim.summary, claim.claims, claim.lines, claim.run_id, fw.title
    )
    t_prepare = time.perf_counter() - t
    t = time.perf_counter()
    verified = verify_claim(store, read_claim_workbook(wb))
    t_verify = time.perf_counter() - t
    score = score_claim(claim.claims, store, build.run_id, out / "truth")
    return {
        "scale": scale,
        "attached": check.rows.height,
        "attach_s": round(t_attach, 2),
        "outcomes_import_s": round(t_import, 2),
        "outcomes_import_stages_s": {k: round(v, 2) for k, v in imported.seconds.items()},
        "later_records": imported.records,
        "claimed": claim.summary["claimed"],
        "amount": claim.summary["amount"],
        "evidence_lines": claim.lines.height,
        "prepare_s": round(t_prepare, 2),
        "verify_s": round(t_verify, 2),
        "prepare_plus_verify_s": round(t_prepare + t_verify, 2),
        "discrepancies": len(verified.discrepancies),
        "against_planted": score,
        "as_of": str(date(2013, 6, 1)),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def main() -> None:
    scales = [float(a) for a in sys.argv[1:]] or [1.0]
    for scale in scales:
        print(json.dumps(run(scale)), flush=True)


if __name__ == "__main__":
    main()
