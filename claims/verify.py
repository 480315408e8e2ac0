"""``claims verify``: internal audit's check of a claim workbook against the record of truth.

1. The workbook is ours, from this database's claim run, with every sheet in place.
2. Families and Evidence match the recorded claim cell by cell (any edit, added or removed row
   is named with its family), and so do the Summary totals.
3. The claim is re-derived from the recorded evidence as it stands now: a result the evidence
   no longer supports (late data), or a different amount, is reported.
4. No family in it was already paid for a turnaround in another submitted claim, and the
   funded cap is not exceeded.
5. The Audit sheet: how many sampled families were checked and agreed; a "no" is a
   discrepancy, and so is a sample that differs from the recorded one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from claims.framework import Framework, load_framework
from claims.prepare import content_hash, decide_all, earlier_submissions, gather, totals
from claims.records import from_pence, to_pence
from claims.workbook import (
    EVIDENCE_COLUMNS,
    FAMILY_COLUMNS,
    ClaimWorkbook,
    Row,
    _norm,
    compare_rows,
    expected_rows,
)
from familymatch.errors import FamilyMatchError, InputFileError
from familymatch.store import Store, read_table, run_info
from familymatch.store import schema as s


@dataclass
class Verification:
    claim_run: int
    families: int
    amount: str
    discrepancies: list[tuple[str, str]] = field(default_factory=list)  # (family or "-", what)
    sampled: int = 0
    checked: int = 0
    agreed: int = 0
    disagreed: int = 0

    @property
    def ok(self) -> bool:
        return not self.discrepancies

    @property
    def signed_off(self) -> bool:
        return self.sampled == self.agreed


def _normed(rows: list[Row], columns: tuple[tuple[str, str], ...]) -> list[Row]:
    return [tuple(_norm(v, kind) for v, (_, kind) in zip(r, columns, strict=True)) for r in rows]


def _framework_of(info: dict[str, Any], params: dict[str, Any]) -> Framework:
    try:
        fw = load_framework(params["framework_path"])
    except FamilyMatchError:
        fw = load_framework(str(info["framework"]))
    return fw


def verify_claim(store: Store, wb: ClaimWorkbook) -> Verification:
    import json

    label = f"claim workbook {wb.path.name}"
    try:
        info = run_info(store, wb.claim_run)
    except FamilyMatchError:
        raise InputFileError(
            f"{label}: is from another database (claim run {wb.claim_run} is not a complete "
            f"claim in {store.label})."
        ) from None
    if info["kind"] != "claim":
        raise InputFileError(
            f"{label}: is from another database (run {wb.claim_run} here is a {info['kind']} run)."
        )
    summary = json.loads(info["summary"] or "{}")
    params = json.loads(info["parameters"] or "{}")
    if summary.get("content_sha256") != wb.content_sha256:
        raise InputFileError(
            f"{label}: is from another run or database (its content hash does not match claim "
            f"run {wb.claim_run})."
        )
    claims = read_table(store, s.claims, wb.claim_run)
    lines = read_table(store, s.claim_lines, wb.claim_run)
    if content_hash(claims, lines) != wb.content_sha256:
        raise FamilyMatchError(
            f"claim run {wb.claim_run}: its recorded rows no longer match their hash; the "
            "database was changed outside familymatch."
        )
    claimed = claims.filter(pl.col("decision") == "claimed")
    v = Verification(
        claim_run=wb.claim_run,
        families=claimed.height,
        amount=str(summary.get("amount")),
    )
    fam_exp, ev_exp = expected_rows(claims, lines)
    v.discrepancies += compare_rows(
        "Families", FAMILY_COLUMNS, _normed(fam_exp, FAMILY_COLUMNS), wb.families, 1, 1
    )
    v.discrepancies += compare_rows(
        "Evidence", EVIDENCE_COLUMNS, _normed(ev_exp, EVIDENCE_COLUMNS), wb.evidence, 2, 2
    )
    want_totals = [
        (t["programme_year"], t["result"], t["families"], _norm(t["amount"], "money"))
        for t in totals(claims)
    ]
    if want_totals != wb.summary_totals:
        v.discrepancies.append(
            ("-", "Summary: the totals by programme year and result were changed")
        )

    # re-derive from the evidence as recorded now (late data, a changed framework)
    fw = _framework_of(info, params)
    if fw.sha256 != info["framework_sha256"]:
        v.discrepancies.append(
            ("-", f"framework {fw.path.name} changed since the claim was prepared")
        )
    # the claim as it stood: the families attached and the submissions made before it (its own
    # submission, and later claims', must not count against it)
    only = params.get("only_build", params["build_run"] if "build_runs" not in params else None)
    ev = gather(store, fw, only, before_claim_run=wb.claim_run)
    other_claims = earlier_submissions(store, wb.claim_run)
    turnarounds = {n for n, r in fw.results.items() if r.turnaround}
    as_of = date.fromisoformat(params["as_of"])
    terms = Path(params["terms"]) if params.get("terms") else None
    now = {d.family.family_ref: d for d in decide_all(fw, ev, as_of, terms)}
    for r in claimed.iter_rows(named=True):
        ref = r["family_ref"]
        paid = [
            (cr, res, when)
            for cr, res, f, when in other_claims.select(
                "claim_run_id", "result", "family_ref", "submitted_on"
            ).iter_rows()
            if f == ref and set(res.split("+")) & (set(r["result"].split("+")) | turnarounds)
        ]
        if paid:
            cr, res, when = paid[0]
            v.discrepancies.append((ref, f"already paid: {res} in claim run {cr} submitted {when}"))
            continue
        d = now.get(ref)
        if d is None:
            v.discrepancies.append((ref, "the family is no longer attached"))
        elif not d.claimed:
            v.discrepancies.append(
                (ref, f"the evidence no longer supports {r['result']}: {d.reason}")
            )
        elif "+".join(d.results) != r["result"] or to_pence(d.amount) != r["amount_pence"]:
            v.discrepancies.append(
                (
                    ref,
                    f"re-derived as {'+'.join(d.results)} {d.amount}, the claim holds "
                    f"{r['result']} {from_pence(r['amount_pence'])}",
                )
            )
    if fw.indicative_families:
        cap = fw.funded_families()
        total = ev.turned_around_before + sum(
            1 for res in claimed["result"] if set(res.split("+")) & turnarounds
        )
        if total > cap:
            v.discrepancies.append(
                (
                    "-",
                    f"{total} families turned around with this claim, above the funded cap of {cap}",
                )
            )

    # sign-off
    sample = set(claimed.filter(pl.col("sampled"))["family_ref"])
    v.sampled = len(sample)
    seen: set[str] = set()
    for row in wb.audit:
        ref = str(row.get("family_ref") or "")
        if ref not in sample:
            v.discrepancies.append(
                (ref or "-", "Audit: a family that is not in the recorded sample")
            )
            continue
        seen.add(ref)
        agreed = str(row.get("agreed") or "").strip().lower()
        if row.get("checked_by"):
            v.checked += 1
        if agreed == "yes":
            v.agreed += 1
        elif agreed == "no":
            v.disagreed += 1
            note = str(row.get("comment") or "").strip()
            v.discrepancies.append(
                (ref, "internal audit did not agree" + (f": {note}" if note else ""))
            )
        elif agreed:
            v.discrepancies.append((ref, f"Audit: agreed is '{row.get('agreed')}', not yes or no"))
    for ref in sorted(sample - seen):
        v.discrepancies.append((ref, "Audit: the sampled family's row was removed"))
    return v
