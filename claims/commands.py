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
from claims.records import family_history, record_submission, submitted_claim_runs, to_pence
from claims.verify import verify_claim
from claims.workbook import read_claim_workbook, write_claim_workbook
from familymatch.errors import FamilyMatchError
from familymatch.ingest import file_sha256
from familymatch.store import audit
from familymatch.store.families import reference_for


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
    command: str = "claims prepare",
) -> PreparedClaim:
    """Record the claim as of ``day`` and write its workbook (default claims/ in ``folder``)."""
    fw = load_framework(framework, base=Path.cwd())
    share = parse_sample(sample)
    claim = prepare_claim(store, fw, day, build, share)
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


def history_command(store: Any, family: str, command: str) -> tuple[str, pl.DataFrame]:
    """`claims history`: the family's reference and every claim decision about it (audited);
    an error when no claim has considered it."""
    ref = reference_for(store, family)
    rows = family_history(store, ref)
    audit(store, command, None, [])
    if rows.height == 0:
        raise FamilyMatchError(f"family {ref}: no claim has considered this family.")
    return ref, rows


def not_verified(workbook: Path, v: Any) -> FamilyMatchError:
    """The refusal of a submission whose workbook disagrees with the evidence."""
    return FamilyMatchError(
        f"{workbook.name}: {len(v.discrepancies)} discrepancies; run `familymatch claims "
        "verify` and resolve them before submitting."
    )


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
    skipped: int  # rows left blank or marked skip
    build_run: int = 0
    matched: pl.DataFrame | None = None  # --match-people: one row per data row (no details)


def attach_file(
    store: Any,
    build_run: int,
    file: Path,
    sheet: str | None,
    today: date,
    command: str = "attach",
    match: bool = False,
    margin: float | None = None,
) -> Attached:
    """Check every row of the returned allocation (family references, or the lead adult's
    details with ``match``: claims/match_people.py) against build ``build_run``; record the
    attachments only if no row has a problem (else an error listing the problems, one sentence
    each, and nothing recorded)."""
    from claims.attach import SHEET, check_against_build, read_allocation
    from claims.match_people import (
        DEFAULT_MARGIN,
        as_allocation,
        match_people,
        read_people,
        row_lines,
    )
    from claims.records import record_attachments

    matched = None
    problems: list[str] = []
    blank = 0
    found_lines: list[str] = []
    if match:
        people = read_people(file, sheet or "People")
        found = match_people(store, build_run, people, DEFAULT_MARGIN if margin is None else margin)
        matched, problems = found.rows, [f"{file.name} {p}" for p in found.problems]
        allocation = as_allocation(people, found)
        blank = int(people["skip"].sum())
        found_lines = [f"  {file.name} {line}" for line in row_lines(found.rows)]
    else:
        allocation = read_allocation(file, sheet or SHEET)
    check = check_against_build(store, build_run, allocation, today, file.name)
    problems += check.problems
    if problems:
        more = len(problems) - 50
        raise FamilyMatchError(
            f"{file.name}: {len(problems)} problem(s) found"
            + (f" ({more} more not shown)" if more > 0 else "")
            + "; nothing was recorded.",
            details=found_lines[:200] + [f"  {problem}" for problem in problems[:50]],
        )
    if check.rows.height == 0:
        raise FamilyMatchError(
            f"{file.name}: no family has a key worker and date; nothing to record."
        )
    attach_run = record_attachments(store, build_run, check.rows, str(file))
    audit(store, command, attach_run, [(str(file), file_sha256(file))])
    return Attached(attach_run, check.rows.height, check.skipped + blank, build_run, matched)
