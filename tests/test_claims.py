"""Attachment, outcome evidence and claims end to end on the small synthetic council, through
the command line: allocation template, attach (and its refusals), outcomes import, claims
prepare against the planted results, verify (every single-cell edit detected), submit, history."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from claims.records import read_attachments
from claims.verify import verify_claim
from claims.workbook import EVIDENCE_COLUMNS, FAMILY_COLUMNS, compare_rows, read_claim_workbook
from cli import app
from familymatch.project import load_project
from familymatch.store import latest_run, open_store, read_table
from familymatch.store import schema as s
from familymatch.workbooks import libreoffice_opens
from fixtures.allocation import fill_allocation, score_claim

runner = CliRunner()
CRAFTED = '=HYPERLINK("http://x","click")'


@dataclass
class Council:
    folder: Path
    project: Path
    claim_run: int
    workbook: Path
    prepared: dict[str, object]


def run(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return " ".join(result.output.split())


def fails(*args: str, code: int = 2) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == code, result.output
    return " ".join(result.output.split())  # rich wraps long lines


@pytest.fixture(scope="module")
def council(built_council: Path, tmp_path_factory: pytest.TempPathFactory) -> Council:
    out = tmp_path_factory.mktemp("claims") / "council"
    shutil.copytree(built_council, out)
    project = out / "familymatch.toml"
    run("cohort", "allocation", "--out", str(out / "allocation.csv"), "-p", str(project))
    store = open_store(load_project(project).database_url)
    n = fill_allocation(
        out / "allocation.csv", out / "allocation_filled.csv", store, 1, out / "truth"
    )
    assert n > 10
    # hold three planted families back (allocated later, or used by the refusal tests)
    filled = pl.read_csv(out / "allocation_filled.csv", infer_schema=False)
    held = filled.filter(pl.col("attached_on").is_not_null())["family_ref"][-3:]
    filled = filled.with_columns(
        pl.when(pl.col("family_ref").is_in(held.to_list())).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("key_worker", "team", "attached_on")
    )
    # a crafted key worker name: it must stay text in every workbook
    filled.with_columns(
        pl.when(pl.col("key_worker").is_not_null()).then(pl.lit(CRAFTED)).alias("key_worker")
    ).write_csv(out / "allocation_filled.csv")
    run("attach", str(out / "allocation_filled.csv"), "-p", str(project), "--today", "2013-06-01")
    run("outcomes", "import", str(out / "familymatch_period2.toml"), "-p", str(project))
    wb = out / "claim.xlsx"
    prepared = json.loads(
        run(
            "claims",
            "prepare",
            "--as-of",
            "2013-06-01",
            "--out",
            str(wb),
            "--sample",
            "0.5",
            "-p",
            str(project),
            "--json",
        )
    )
    return Council(out, project, int(prepared["run_id"]), wb, prepared)


def test_claimed_families_are_the_planted_results(council: Council) -> None:
    store = open_store(load_project(council.project).database_url)
    claims = read_table(store, s.claims, council.claim_run)
    attached = read_attachments(store)
    assert claims.height == attached.height  # every attached family is decided
    score = score_claim(claims, store, 1, council.folder / "truth")
    # every claim is a planted result, and every planted result of an attached family is
    # claimed (at this size one planted family is split by the linkage and not in the cohort)
    assert score["precision"] == 1.0, score
    assert score["recall_attached"] == 1.0, score
    assert score["right"] == score["planted_results_attached"] >= 7
    claimed = claims.filter(pl.col("decision") == "claimed")
    # amounts add up to the framework to the penny: R1 700, R3 800 in 2012/13
    expected = sum({"R1": 70_000, "R3": 80_000}[r] for r in claimed["result"].to_list())
    assert claimed["amount_pence"].sum() == expected
    assert council.prepared["amount"] == f"{expected // 100}.{expected % 100:02d}"
    assert set(claimed["programme_year"]) == {"2012/13"}
    not_claimed = claims.filter(pl.col("decision") == "not_claimed")
    assert not_claimed["reason"].str.len_chars().min() > 10  # every refusal says why


def test_values_that_look_like_formulas_stay_text(council: Council) -> None:
    wb = load_workbook(council.workbook)
    cells = [c for row in wb["Families"].iter_rows(min_row=2, min_col=3, max_col=3) for c in row]
    assert cells and all(c.value == CRAFTED and c.data_type == "s" for c in cells)
    assert wb["Not claimed"].cell(row=2, column=2).data_type == "s"


def test_verify_clean_workbook(council: Council) -> None:
    out = run("claims", "verify", str(council.workbook), "-p", str(council.project))
    assert "verified" in out and "every cell matches" in out


def test_every_single_cell_edit_of_families_and_evidence_is_detected(council: Council) -> None:
    wb = read_claim_workbook(council.workbook)
    store = open_store(load_project(council.project).database_url)
    assert verify_claim(store, wb).ok
    for name, columns, key_len, fam_col in (
        ("Families", FAMILY_COLUMNS, 1, 1),
        ("Evidence", EVIDENCE_COLUMNS, 2, 2),
    ):
        rows = wb.families if name == "Families" else wb.evidence
        assert rows, name
        checked = 0
        for i, row in enumerate(rows[:40]):
            for j in range(len(columns)):
                edited = list(row)
                value = row[j]
                edited[j] = "edited" if value != "edited" else "EDITED"
                found = [*rows[:i], tuple(edited), *rows[i + 1 :]]
                problems = compare_rows(name, columns, rows, found, key_len, fam_col)
                assert problems, (name, i, columns[j][0])
                checked += 1
        assert checked >= len(columns)


def _edit(src: Path, dst: Path, sheet: str, cell: str, value: object) -> Path:
    wb = load_workbook(src)
    wb[sheet][cell] = value
    wb.save(dst)
    return dst


def test_edits_in_the_file_are_reported_per_family(council: Council, tmp_path: Path) -> None:
    p = str(council.project)
    wb = load_workbook(council.workbook)
    family = wb["Families"]["B2"].value
    amount = _edit(council.workbook, tmp_path / "a.xlsx", "Families", "H2", 4000)
    out = fails("claims", "verify", str(amount), "-p", p, code=1)
    assert family in out and "amount is '4000.00'" in out
    evidence = _edit(council.workbook, tmp_path / "e.xlsx", "Evidence", "L2", "0 sessions")
    assert "after is '0 sessions'" in fails("claims", "verify", str(evidence), "-p", p, code=1)
    wb = load_workbook(council.workbook)
    wb["Families"].delete_rows(3)
    wb.save(tmp_path / "d.xlsx")
    assert "was removed" in fails("claims", "verify", str(tmp_path / "d.xlsx"), "-p", p, code=1)
    total = _edit(council.workbook, tmp_path / "t.xlsx", "Families", "H3", None)
    assert "amount is 'None'" in fails("claims", "verify", str(total), "-p", p, code=1)


def test_workbooks_that_are_not_this_claim_are_refused(council: Council, tmp_path: Path) -> None:
    p = str(council.project)
    wb = load_workbook(council.workbook)
    wb["Evidence"].title = "Evidence (checked)"
    wb.save(tmp_path / "renamed.xlsx")
    out = fails("claims", "verify", str(tmp_path / "renamed.xlsx"), "-p", p)
    assert "sheet 'Evidence' is missing (renamed or removed)" in out
    wb = load_workbook(council.workbook)
    del wb["familymatch"]
    wb.save(tmp_path / "notours.xlsx")
    assert "is not a familymatch claim workbook" in fails(
        "claims", "verify", str(tmp_path / "notours.xlsx"), "-p", p
    )
    other = _edit(council.workbook, tmp_path / "other.xlsx", "familymatch", "B3", "0" * 64)
    assert "is from another run or database" in fails("claims", "verify", str(other), "-p", p)
    gone = _edit(council.workbook, tmp_path / "gone.xlsx", "familymatch", "B2", 999)
    assert "is from another database" in fails("claims", "verify", str(gone), "-p", p)
    (tmp_path / "text.xlsx").write_text("not a workbook")
    assert "is not an .xlsx workbook" in fails(
        "claims", "verify", str(tmp_path / "text.xlsx"), "-p", p
    )


def test_a_claim_prepared_twice_is_paid_once(council: Council, tmp_path: Path) -> None:
    """Two claims prepared before either is submitted hold the same families: once one is
    submitted, verify reports every family of the other as already paid."""
    copy = tmp_path / "council"
    shutil.copytree(council.folder, copy)
    p = str(copy / "familymatch.toml")
    store = open_store(load_project(copy / "familymatch.toml").database_url)
    assert latest_run(store, "submit") is None  # runs before the submission test below
    second = copy / "second.xlsx"
    again = json.loads(
        run("claims", "prepare", "--as-of", "2013-06-01", "--out", str(second), "-p", p, "--json")
    )
    first = copy / "claim.xlsx"
    wb = load_workbook(first)
    audit = wb["Audit"]
    for r in range(2, audit.max_row + 1):
        audit.cell(row=r, column=5, value="I. Auditor")
        audit.cell(row=r, column=7, value="yes")
    wb.save(first)
    run("claims", "submit", str(first), "-p", p, "--on", "2013-06-20")
    out = fails("claims", "verify", str(second), "-p", p, code=1)
    assert out.count("already paid") == again["claimed"]
    assert f"in claim run {council.claim_run} submitted 2013-06-20" in out


def test_the_funded_cap_holds_and_a_changed_framework_is_reported(
    council: Council, tmp_path: Path
) -> None:
    copy = tmp_path / "council"
    shutil.copytree(council.folder, copy)
    p = str(copy / "familymatch.toml")
    base = (Path(__file__).resolve().parents[1] / "claims" / "phase1.toml").read_text()
    framework = tmp_path / "small.toml"
    framework.write_text(base.replace("indicative_families = 745", "indicative_families = 4"))
    out = tmp_path / "capped.xlsx"
    capped = json.loads(
        run(
            "claims", "prepare", "--framework", str(framework), "--as-of", "2013-06-01",
            "--out", str(out), "-p", p, "--json",
        )
    )  # fmt: skip
    store = open_store(load_project(copy / "familymatch.toml").database_url)
    claims = read_table(store, s.claims, int(capped["run_id"]))
    assert latest_run(store, "submit") is None  # runs before the submission test below
    assert capped["claimed"] == 3  # floor(4 x 5/6)
    assert claims["reason"].str.contains("funded cap of 3 families is reached").sum() > 0
    run("claims", "verify", str(out), "-p", p)
    framework.write_text(base.replace("indicative_families = 745", "indicative_families = 2"))
    told = fails("claims", "verify", str(out), "-p", p, code=1)
    assert "framework small.toml changed since the claim was prepared" in told
    assert "3 families turned around with this claim, above the funded cap of 1" in told


def test_submit_needs_sign_off_then_locks_the_families(council: Council, tmp_path: Path) -> None:
    p = str(council.project)
    out = fails("claims", "submit", str(council.workbook), "-p", p)
    assert "every sampled family must be checked and agreed" in out
    wb = load_workbook(council.workbook)
    audit = wb["Audit"]
    sampled = [audit.cell(row=r, column=2).value for r in range(2, audit.max_row + 1)]
    assert len(sampled) >= 2
    for r in range(2, audit.max_row + 1):
        audit.cell(row=r, column=5, value="I. Auditor")
        audit.cell(row=r, column=6, value=date(2013, 6, 10))
        audit.cell(row=r, column=7, value="yes")
    audit.cell(row=2, column=7, value="no")
    audit.cell(row=2, column=8, value="school letter missing")
    wb.save(tmp_path / "disagreed.xlsx")
    out = fails("claims", "verify", str(tmp_path / "disagreed.xlsx"), "-p", p, code=1)
    assert f"{sampled[0]}: internal audit did not agree: school letter missing" in out
    audit.cell(row=2, column=7, value="yes")
    signed = tmp_path / "signed.xlsx"
    wb.save(signed)
    out = run("claims", "verify", str(signed), "-p", p)
    assert f"{len(sampled)} checked, {len(sampled)} agreed" in out
    run("claims", "submit", str(signed), "-p", p, "--on", "2013-06-15")
    assert "already submitted on 2013-06-15" in fails("claims", "submit", str(signed), "-p", p)

    # a claim claims what became claimable since the last submitted claim: not its date again
    told = fails("claims", "prepare", "--as-of", "2013-06-01", "-p", p)
    assert "claim run 4, dated 2013-06-01, is already submitted" in told
    # a second claim excludes every family already turned around, and says so
    again = json.loads(
        run(
            "claims",
            "prepare",
            "--as-of",
            "2013-06-02",
            "--out",
            str(tmp_path / "c2.xlsx"),
            "-p",
            p,
            "--json",
        )
    )
    assert again["claimed"] == 0
    store = open_store(load_project(council.project).database_url)
    second = read_table(store, s.claims, int(again["run_id"]))
    first_claimed = council.prepared["claimed"]
    assert second["reason"].str.contains("already turned around").sum() == first_claimed
    # and the first workbook now reports nothing new; history shows the submission
    family = sampled[0]
    history = json.loads(run("claims", "history", str(family), "-p", p, "--json"))
    assert [(h["claim_run"], h["decision"], h["submitted_on"]) for h in history] == [
        (council.claim_run, "claimed", "2013-06-15"),
        (int(again["run_id"]), "not_claimed", None),
    ]
    assert history[0]["amount"] in ("700.00", "800.00")
    assert "already turned around" in history[1]["reason"]


def test_attach_refuses_bad_allocations_and_records_nothing(
    council: Council, tmp_path: Path
) -> None:
    p = str(council.project)
    store = open_store(load_project(council.project).database_url)
    before = read_attachments(store).height
    template = pl.read_csv(council.folder / "allocation.csv", infer_schema=False)
    attached = set(read_attachments(store)["family_ref"])
    free = [r for r in template["family_ref"] if r not in attached]
    assert len(free) >= 2
    ref = sorted(attached)
    rows = [
        ("F999999", "KW", "", "01/08/2012"),  # unknown family
        (free[0], "KW", "", "01/05/2012"),  # before the build's reference date
        (free[1], "", "", "01/08/2012"),  # no key worker
        (ref[1], "KW", "", "31/02/2013"),  # not a date (and already attached)
        (ref[0], "KW", "", "01/08/2012"),  # already attached
        (free[0], "KW", "", "02/08/2012"),  # twice
    ]
    bad = tmp_path / "bad.csv"
    pl.DataFrame(
        rows, schema=["family_ref", "key_worker", "team", "attached_on"], orient="row"
    ).write_csv(bad)
    out = fails("attach", str(bad), "-p", p)
    for msg in (
        "bad.csv row 1: family F999999 is not a family of the build",
        "bad.csv row 2: attachment date 2012-05-01 is before the build's reference date 2012-06-01",
        "bad.csv row 3: no key worker",
        "bad.csv row 4: attachment date '31/02/2013' is not a date",
        f"bad.csv row 5: family {ref[0]} was already attached on",
        f"bad.csv row 6: family {free[0]} is also on row 2",
        "7 problem(s) found; nothing was recorded",
    ):
        assert msg in " ".join(out.split()), msg
    assert read_attachments(store).height == before
    nocol = tmp_path / "nocol.csv"
    nocol.write_text("ref,worker\nF1,KW\n")
    assert "no 'attached_on' column" in fails("attach", str(nocol), "-p", p)


def test_allocation_round_trips_through_xlsx(council: Council, tmp_path: Path) -> None:
    """The coordinator edits the XLSX template and gives it back."""
    p = str(council.project)
    template = tmp_path / "allocation.xlsx"
    run("cohort", "allocation", "--out", str(template), "-p", p)
    store = open_store(load_project(council.project).database_url)
    attached = set(read_attachments(store)["family_ref"])
    wb = load_workbook(template)
    ws = wb["Allocation"]
    picked = []
    for r in range(2, ws.max_row + 1):
        if ws.cell(row=r, column=1).value not in attached and len(picked) < 2:
            ws.cell(row=r, column=4, value="New Worker")
            ws.cell(row=r, column=5, value="East")
            ws.cell(row=r, column=6, value=date(2013, 5, 20))
            picked.append(ws.cell(row=r, column=1).value)
    wb.save(template)
    out = run("attach", str(template), "-p", p, "--today", "2013-06-01")
    assert "attached 2 families" in out
    rows = read_attachments(store).filter(pl.col("family_ref").is_in(picked))
    assert (
        rows.sort("family_ref").select("key_worker", "team", "attached_on").rows()
        == [("New Worker", "East", date(2013, 5, 20))] * 2
    )
    assert latest_run(store, "attach") is not None


@pytest.mark.libreoffice
def test_claim_workbook_opens_in_libreoffice(council: Council, tmp_path: Path) -> None:
    pdf = libreoffice_opens(council.workbook, tmp_path)
    assert pdf.stat().st_size > 1000


def test_late_data_that_no_longer_supports_a_claim_is_reported(
    council: Council, tmp_path: Path
) -> None:
    """A later extract arrives after the claim was prepared: a child of a claimed R1 family
    has three fixed-term exclusions. Verify re-derives the claim and names the family."""
    copy = tmp_path / "council"
    shutil.copytree(council.folder, copy)
    project = str(copy / "familymatch.toml")
    store = open_store(load_project(copy / "familymatch.toml").database_url)
    lines = read_table(store, s.claim_lines, council.claim_run)
    claims = read_table(store, s.claims, council.claim_run)
    r1 = claims.filter(pl.col("result") == "R1")["claim_id"]
    census = lines.filter(
        pl.col("claim_id").is_in(r1.implode()) & (pl.col("source") == "school_census")
    ).sort("claim_id", "line")
    assert census.height, "a claimed R1 family with a child at school"
    claim_id, record_id = census.select("claim_id", "record_id").row(0)
    family = claims.filter(pl.col("claim_id") == claim_id)["family_ref"][0]
    outcomes_run = latest_run(store, "outcomes")
    assert outcomes_run is not None
    child = read_table(store, s.records, outcomes_run, record_id=record_id).row(0, named=True)
    extract = copy / "extracts_period2" / "exclusions.csv"
    with extract.open("a", encoding="utf-8") as f:
        for day in (4, 11, 18):
            f.write(
                f'"{child["surname"].upper()}, {child["forename"]}",{child["dob"]},'
                f"{child['upn']},Fixed Term,2013-03-{day:02d},2,{child['school']},"
                f"{child['postcode'] or ''}\n"
            )
    run("outcomes", "import", str(copy / "familymatch_period2.toml"), "-p", project)
    out = fails("claims", "verify", str(council.workbook), "-p", project, code=1)
    assert f"{family}: the evidence no longer supports R1" in out
    assert "3 fixed-term" in out
