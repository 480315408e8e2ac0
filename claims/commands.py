"""The claims commands' work, for `cli.py` to call: prepare a claim and write its workbook,
verify a workbook, submit a verified one. Each raises FamilyMatchError with one sentence."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl

from claims.framework import load_framework
from claims.prepare import prepare_claim, workbook_name
from claims.records import record_submission, submitted_claim_runs, to_pence
from claims.verify import verify_claim
from claims.workbook import read_claim_workbook, write_claim_workbook
from familymatch.errors import FamilyMatchError
from familymatch.ingest import file_sha256
from familymatch.store import audit


def parse_sample(sample: str | None) -> Decimal | None:
    """The --sample share: above 0, at most 1."""
    if sample is None:
        return None
    try:
        share = Decimal(sample)
    except InvalidOperation:
        raise FamilyMatchError(f"--sample: '{sample}' is not a number.") from None
    if not 0 < share <= 1:
        raise FamilyMatchError(f"--sample: {sample} must be above 0 and at most 1.")
    return share


@dataclass
class PreparedClaim:
    run_id: int
    summary: dict[str, Any]
    workbook: Path

    def document(self) -> dict[str, Any]:
        """What `claims prepare --json` prints."""
        return {"run_id": self.run_id, "workbook": str(self.workbook), **self.summary}


def prepare_and_write(
    store: Any,
    folder: Path,
    framework: str,
    day: date,
    build: int | None,
    sample: str | None,
    out: Path | None,
    terms: Path | None = None,
    command: str = "claims prepare",
) -> PreparedClaim:
    """Record the claim as of ``day`` and write its workbook (default claims/ in ``folder``);
    ``terms``: the council's term calendar (None: the packaged one)."""
    fw = load_framework(framework, base=Path.cwd())
    share = parse_sample(sample)
    claim = prepare_claim(store, fw, day, build, share, terms)
    path = out or workbook_name(folder / "claims", claim.run_id)
    write_claim_workbook(path, claim.summary, claim.claims, claim.lines, claim.run_id, fw.title)
    audit(store, command, claim.run_id, [(str(path), "written")])
    return PreparedClaim(claim.run_id, claim.summary, path)


def verify_workbook(store: Any, workbook: Path, command: str = "claims verify") -> Any:
    """Re-derive the workbook's claim from the recorded evidence; the verification."""
    wb = read_claim_workbook(workbook)
    v = verify_claim(store, wb)
    audit(store, command, wb.claim_run, [(str(workbook), file_sha256(workbook))])
    return v


@dataclass
class Submission:
    claim_run: int
    run_id: int
    on: date
    families: int
    amount: str


def submit_workbook(
    store: Any, workbook: Path, when: date, command: str = "claims submit"
) -> tuple[Submission | None, Any]:
    """Record a verified, signed-off claim as submitted. Returns (None, verification) when
    the workbook disagrees with the evidence, so the caller can show the discrepancies."""
    wb = read_claim_workbook(workbook)
    done = submitted_claim_runs(store).filter(pl.col("claim_run_id") == wb.claim_run)
    if done.height:
        raise FamilyMatchError(
            f"claim run {wb.claim_run} was already submitted on {done['submitted_on'][0]}."
        )
    v = verify_claim(store, wb)
    if not v.ok:
        return None, v
    if not v.signed_off:
        raise FamilyMatchError(
            f"{workbook.name}: internal audit has agreed {v.agreed} of the {v.sampled} sampled "
            "families; every sampled family must be checked and agreed before submission."
        )
    sha = file_sha256(workbook)
    run_id = record_submission(
        store, wb.claim_run, sha, when, v.families, to_pence(Decimal(v.amount))
    )
    audit(store, command, run_id, [(str(workbook), sha)])
    return Submission(wb.claim_run, run_id, when, v.families, str(v.amount)), v


@dataclass
class Attached:
    run_id: int  # the attach run
    families: int
    skipped: int


def attach_file(
    store: Any, build_run: int, file: Path, sheet: str, today: date, command: str = "attach"
) -> Attached:
    """Check every row of the returned allocation; record the attachments only if none has a
    problem (else an error listing the problems, one sentence each, and nothing recorded)."""
    from claims.attach import check_allocation, read_allocation
    from claims.records import cohort_families, family_refs, read_attachments, record_attachments
    from familymatch.store import run_info

    check = check_allocation(
        read_allocation(file, sheet),
        cohort_families(store, build_run),
        family_refs(store, build_run),
        read_attachments(store).select("family_ref", "attached_on"),
        run_info(store, build_run)["reference_date"],
        today,
        file.name,
    )
    if check.problems:
        more = len(check.problems) - 50
        raise FamilyMatchError(
            f"{file.name}: {len(check.problems)} problem(s) found"
            + (f" ({more} more not shown)" if more > 0 else "")
            + "; nothing was recorded.",
            details=[f"  {problem}" for problem in check.problems[:50]],
        )
    if check.rows.height == 0:
        raise FamilyMatchError(
            f"{file.name}: no family has a key worker and date; nothing to record."
        )
    attach_run = record_attachments(store, build_run, check.rows, str(file))
    audit(store, command, attach_run, [(str(file), file_sha256(file))])
    return Attached(attach_run, check.rows.height, check.skipped)
