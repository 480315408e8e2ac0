"""cohort select and cohort lists on a small synthetic council: the choice and its reasons, the
workbooks (safe cells, owner-only, dates as dates, highlighting), pseudonymised lists, errors
that leave nothing behind, and LibreOffice opening the files (marked ``libreoffice``)."""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from typer.testing import CliRunner

from cli import app
from familymatch.errors import FamilyMatchError
from familymatch.family_lists import FAMILY_COLUMNS, MEMBER_COLUMNS, write_frame
from familymatch.pseudonyms import pseudonym
from familymatch.store import latest_run, list_runs, open_store, read_table, recording_run
from familymatch.store import schema as s
from rules.select import (
    FamilyList,
    SelectionRequest,
    read_family_list,
    select_families,
)

runner = CliRunner()
CRAFTED = '=HYPERLINK("http://evil.example","click")'


@pytest.fixture(scope="module")
def council(built_council: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small council built once, with one cohort member's forename replaced by a formula."""
    out = tmp_path_factory.mktemp("lists") / "council"
    shutil.copytree(built_council, out)
    store = _store(out)
    cohort = read_table(store, s.cohort, 1).filter(pl.col("in_cohort"))
    top = cohort.sort(["n_criteria", "household_id"], descending=[True, False])["household_id"][0]
    member = read_table(store, s.membership, 1, household_id=top)["record_id"].to_list()
    with store.engine.begin() as conn:
        conn.execute(
            update(s.records)
            .where(s.records.c.record_id.in_(member), s.records.c.forename.is_not(None))
            .values(forename=CRAFTED)
        )
    return out


def _store(folder: Path) -> Any:
    return open_store(f"sqlite:///{folder / 'familymatch.db'}")


def _proj(folder: Path) -> str:
    return str(folder / "familymatch.toml")


def _select(folder: Path, *args: str) -> Any:
    return runner.invoke(app, ["cohort", "select", "-p", _proj(folder), *args])


def _cohort_size(folder: Path) -> int:
    return int(read_table(_store(folder), s.cohort, 1)["in_cohort"].sum())


def _cells(path: Path) -> list[Any]:
    wb = load_workbook(path)
    return [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row]


# --------------------------------------------------------------------------- selection, pure


def _scored(scores: list[int], groups: list[str]) -> pl.DataFrame:
    n = len(scores)
    return pl.DataFrame(
        {
            "family_ref": [f"F{i:06d}" for i in range(1, n + 1)],
            "household_id": [f"H{i}" for i in range(1, n + 1)],
            "score": scores,
            "n_criteria": [2] * n,
            "group": groups,
        }
    )


def test_select_ranks_ties_and_capacity() -> None:
    scored = _scored([50, 40, 40, 40, 30, 60], ["A", "A", "B", "A", "B", "A"])
    sel = select_families(scored, SelectionRequest(count=3), ["A", "B"], 1)
    assert sel.chosen["family_ref"].to_list() == ["F000006", "F000001", "F000002"]
    assert sel.cut_score == 40
    status = dict(zip(sel.families["family_ref"], sel.families["status"], strict=True))
    assert status["F000003"] == status["F000004"] == "tie"
    assert status["F000005"] == "below cut"
    reasons = dict(zip(sel.families["family_ref"], sel.families["reason"], strict=True))
    assert reasons["F000003"] == (
        "out: tied at 40 with the last family in (F000002); ties go to more criteria met, "
        "then the lower family reference"
    )
    assert reasons["F000005"] == "out: score 30 (rank 6) is below the lowest score chosen (40)"
    # capacity: group A may have 2, so the 40-point family in B takes the third place
    sel = select_families(scored, SelectionRequest(count=3, capacity={"A": 2}), ["A", "B"], 1)
    assert sel.chosen["family_ref"].to_list() == ["F000006", "F000001", "F000003"]
    reasons = dict(zip(sel.families["family_ref"], sel.families["reason"], strict=True))
    assert reasons["F000002"] == (
        "out: score 40 (rank 3), but A had already reached its capacity of 2 families"
    )
    assert "F000002" in sel.margin["family_ref"].to_list()
    assert sel.by_group.rows() == [("A", 4, 2, 2), ("B", 2, 1, None)]
    # capacities too small to fill the count: chosen what fits, and say so
    sel = select_families(
        scored, SelectionRequest(count=5, capacity={"A": 1, "B": 1}), ["A", "B"], 1
    )
    assert sel.chosen.height == 2
    assert sel.notes == [
        "only 2 of the 5 families requested could be chosen: the capacity of A, B is reached "
        "and no other family is left."
    ]


def test_select_must_lists(tmp_path: Path) -> None:
    scored = _scored([50, 40, 30, 20], ["A"] * 4)
    inc = tmp_path / "in.txt"
    inc.write_text("family_ref\n# keep these\nF000004\n", encoding="utf-8")
    exc = tmp_path / "out.csv"
    exc.write_text("F000001,reason not read\n", encoding="utf-8")
    req = SelectionRequest(
        count=2,
        must_include=read_family_list(inc, "--must-include"),
        must_exclude=read_family_list(exc, "--must-exclude"),
    )
    sel = select_families(scored, req, ["A"], 7)
    assert sorted(sel.chosen["family_ref"].to_list()) == ["F000002", "F000004"]
    reasons = dict(zip(sel.families["family_ref"], sel.families["reason"], strict=True))
    assert reasons["F000004"] == (
        "in: on the must-include list (in.txt); by priority alone it ranks 4 of 4"
    )
    assert reasons["F000001"] == (
        "out: on the must-exclude list (out.csv); by priority alone it ranks 1 of 4"
    )
    bad = [
        (
            SelectionRequest(count=5),
            "--count 5 is more than the 4 families in the cohort of run 7.",
        ),
        (SelectionRequest(count=0), "--count 0: choose at least one family."),
        (
            SelectionRequest(count=1, capacity={"Nowhere": 3}),
            "--capacity: 'Nowhere' is not a locality (localities: A).",
        ),
        (
            SelectionRequest(
                count=1, must_include=FamilyList(inc, ("F000009",), {"F000009": 3}, "")
            ),
            "--must-include in.txt line 3: family F000009 is not in the cohort of run 7.",
        ),
        (
            SelectionRequest(
                count=3,
                must_include=req.must_include,
                must_exclude=FamilyList(exc, ("F000004",), {"F000004": 1}, ""),
            ),
            "family F000004 is on both the must-include and the must-exclude list.",
        ),
    ]
    for request, message in bad:
        with pytest.raises(FamilyMatchError) as err:
            select_families(scored, request, ["A"], 7)
        assert err.value.message == message
    secret = tmp_path / "typo.txt"
    secret.write_text("F000001\nPriyanka Quennell\n", encoding="utf-8")
    with pytest.raises(FamilyMatchError) as err:
        read_family_list(secret, "--must-include")
    assert err.value.message == (
        "--must-include typo.txt line 2: is not a family reference (like F000123)."
    )


# --------------------------------------------------------------------------- the commands


def test_select_records_a_run_and_writes_an_owner_only_workbook(council: Path) -> None:
    n = _cohort_size(council)
    count = max(2, n // 3)
    result = _select(council, "--count", str(count), "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["chosen"] == count == len(out["families"])
    assert [f["rank"] for f in out["families"]] == list(range(1, count + 1))
    assert all(f["status"] == "priority" for f in out["families"])
    scores = [f["score"] for f in out["families"]]
    assert scores == sorted(scores, reverse=True) and out["cut_score"] == scores[-1]
    store = _store(council)
    run = latest_run(store, "select")
    assert run == out["select_run"]
    runs = list_runs(store)
    assert runs.filter(pl.col("id") == run)["kind"].to_list() == ["select"]
    path = Path(out["workbook"])
    assert path == council / "selections" / f"selection-run-{run}.xlsx"
    assert os.stat(path).st_mode & 0o777 == 0o600
    wb = load_workbook(path)
    assert wb.sheetnames == ["Cover", "Selection", "Margin", "By group"]
    sel = wb["Selection"]
    assert sel.freeze_panes == "A2" and sel.auto_filter.ref is not None
    header = [c.value for c in sel[1]]
    rows = [dict(zip(header, (c.value for c in r), strict=True)) for r in sel.iter_rows(min_row=2)]
    assert len(rows) == n
    assert sum(r["Chosen"] == "yes" for r in rows) == count
    # the factor columns add up to the score on every row
    factor_cols = header[header.index("Combination") + 1 : header.index("How the score adds up")]
    assert len(factor_cols) == 14
    assert all(sum(r[c] for c in factor_cols) == r["Priority score"] for r in rows)
    # no names in the coordinator's workbook: family references only
    text = " ".join(str(v) for v in _cells(path) if v is not None)
    assert CRAFTED not in text


def test_select_bad_input_is_one_sentence_and_records_nothing(
    council: Path, tmp_path: Path
) -> None:
    store = _store(council)
    before = list_runs(store).height
    n = _cohort_size(council)
    unknown = tmp_path / "keep.txt"
    unknown.write_text("F999999\n", encoding="utf-8")
    bad_priority = tmp_path / "priority.toml"
    bad_priority.write_text('[factors.x]\nmeasure = "met"\npoints = 1\n', encoding="utf-8")
    cases = [
        (["--count", str(n + 1)], f"--count {n + 1} is more than the {n} families"),
        (["--count", "2", "--capacity", "Atlantis=3"], "--capacity: 'Atlantis' is not a locality"),
        (["--count", "2", "--capacity", "East"], "--capacity 'East': give NAME=NUMBER"),
        (
            ["--count", "2", "--must-include", str(unknown)],
            "--must-include keep.txt line 1: family F999999 is not in the cohort of run 1.",
        ),
        (
            ["--count", "2", "--priority", str(bad_priority)],
            "priority.toml: factors.x.indicators: is required for measure 'met'",
        ),
    ]
    for args, message in cases:
        result = _select(council, *args)
        assert result.exit_code == 2, (args, result.output)
        # rich wraps long lines anywhere, even inside a path: compare without whitespace
        assert "".join(message.split()) in "".join(result.output.split()), result.output
        assert "Traceback" not in result.output
    assert list_runs(store).height == before
    assert not list((council / "selections").glob("*.part"))


def test_lists_by_locality_are_usable_workbooks(council: Path, tmp_path: Path) -> None:
    count = max(2, _cohort_size(council) // 3)
    assert _select(council, "--count", str(count)).exit_code == 0
    sel_run = latest_run(_store(council), "select")
    result = runner.invoke(
        app, ["cohort", "lists", "--by", "locality", "-p", _proj(council), "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["select_run"] == sel_run and out["families"] == count
    assert sum(out["groups"].values()) == count
    files = [Path(f) for f in out["files"]]
    assert len(files) == len(out["groups"])
    assert {f.parent for f in files} == {council / "lists" / f"select-run-{sel_run}-by-locality"}
    assert oct(os.stat(files[0].parent).st_mode & 0o777) == "0o700"
    families_seen = 0
    crafted_seen = False
    for f in files:
        assert os.stat(f).st_mode & 0o777 == 0o600
        wb = load_workbook(f)
        assert wb.sheetnames == ["Cover", "Families", "Members"]
        cover = {r[0]: r[1] for r in wb["Cover"].iter_rows(min_row=3, values_only=True) if r[0]}
        assert cover["Selection run"] == sel_run and cover["Build run"] == 1
        assert cover["Data as at"] == datetime(2012, 6, 1)
        assert cover["Families"] == out["groups"][cover["Locality"]]
        fam, mem = wb["Families"], wb["Members"]
        assert fam.freeze_panes == mem.freeze_panes == "A2"
        assert fam.auto_filter.ref == f"A1:{fam.cell(1, fam.max_column).column_letter}{fam.max_row}"
        header = [c.value for c in fam[1]]
        assert header == [h for c, (h, _) in FAMILY_COLUMNS.items() if h in header]
        assert {"Criteria met", "How the score adds up", "Members", "Address"} <= set(header)
        families_seen += fam.max_row - 1
        ranks = [r[0] for r in fam.iter_rows(min_row=2, values_only=True)]
        assert ranks == sorted(ranks)
        # conditional highlighting of the highest scores, and a colour scale on the score
        rules = [r for cf in fam.conditional_formatting for r in cf.rules]
        assert {r.type for r in rules} == {"expression", "colorScale"}
        assert "LARGE(" in next(r for r in rules if r.type == "expression").formula[0]
        # dates stay dates
        mh = [c.value for c in mem[1]]
        dob = mh.index("Date of birth") + 1
        dob_cells = [r[dob - 1] for r in mem.iter_rows(min_row=2) if r[dob - 1].value is not None]
        assert dob_cells and all(c.is_date for c in dob_cells)
        as_at = header.index("Data as at")
        assert all(r[as_at].is_date for r in fam.iter_rows(min_row=2))
        # every family says what it meets, in words
        crit = header.index("Criteria met")
        for r in fam.iter_rows(min_row=2, values_only=True):
            assert re.search(r"^(Crime|Education|Work|Local filter)", r[crit])
        # the crafted forename is text, never a formula
        for ws in (fam, mem):
            for row in ws.iter_rows():
                for c in row:
                    if isinstance(c.value, str) and CRAFTED in c.value:
                        crafted_seen = True
                        assert c.data_type == "s"
    assert families_seen == count
    assert crafted_seen


def test_lists_one_workbook_by_team_and_by_worker(council: Path) -> None:
    proj = _proj(council)
    result = runner.invoke(app, ["cohort", "lists", "--by", "worker", "-p", proj])
    assert result.exit_code == 2
    assert "nokeyworkersarerecordedyet" in "".join(result.output.split())
    result = runner.invoke(
        app, ["cohort", "lists", "--all", "--by", "team", "--sheets", "-p", proj, "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["select_run"] is None and out["families"] == _cohort_size(council)
    assert set(out["groups"]) <= {
        "North West team",
        "North East team",
        "East team",
        "South West team",
        "no team",
    }
    (path,) = [Path(f) for f in out["files"]]
    assert path.name == "family-lists-by-team.xlsx"
    names = load_workbook(path).sheetnames
    assert names[0] == "Cover"
    assert names[1:] == [x for g in sorted(out["groups"]) for x in (g, f"{g} members")]
    # record an attachment run as `familymatch attach` will: two families, one key worker
    store = _store(council)
    refs = (
        read_table(store, s.households, 1)
        .join(read_table(store, s.cohort, 1).filter(pl.col("in_cohort")), on="household_id")[
            "family_ref"
        ]
        .sort()
        .to_list()
    )
    with recording_run(store, "attach") as run:
        run.add(
            s.attachments,
            pl.DataFrame(
                {
                    "family_ref": refs[:2],
                    "key_worker": ["Worker One", "Worker One"],
                    "attached_on": [date(2012, 7, 1)] * 2,
                }
            ),
        )
    result = runner.invoke(
        app, ["cohort", "lists", "--all", "--by", "worker", "-p", proj, "--json"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["groups"] == {"Worker One": 2, "not yet attached": len(refs) - 2}
    wb = load_workbook(next(Path(f) for f in out["files"] if "worker-one" in f))
    header = [c.value for c in wb["Families"][1]]
    row = [c for c in wb["Families"][2]]
    assert row[header.index("Key worker")].value == "Worker One"
    assert row[header.index("Attached on")].is_date


def test_pseudonymised_lists_hold_no_names_or_dates_of_birth(
    council: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key_file = tmp_path / "key" / "pseudonym.key"
    monkeypatch.setenv("FAMILYMATCH_PSEUDONYM_KEY", str(key_file))
    assert _select(council, "--count", "3").exit_code == 0
    proj = _proj(council)
    result = runner.invoke(
        app,
        ["cohort", "lists", "--by", "locality", "--pseudonymise", "-p", proj, "--json"],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    key = key_file.read_bytes()
    store = _store(council)
    chosen = read_table(store, s.households, 1).join(
        read_table(store, s.cohort, 1).filter(pl.col("in_cohort")), on="household_id"
    )
    records = read_table(store, s.records, 1).join(
        read_table(store, s.membership, 1).join(chosen.select("household_id"), on="household_id"),
        on="record_id",
    )
    names = {v for c in ("forename", "surname") for v in records[c].drop_nulls().to_list()}
    dobs = set(records["dob"].drop_nulls().to_list())
    postcodes = set(records["postcode"].drop_nulls().to_list())
    refs = set(chosen["family_ref"].to_list())
    people = set(records["person_id"].to_list())
    seen_families: set[str] = set()
    for f in (Path(p) for p in out["files"]):
        assert "pseudonymised" in f.name and os.stat(f).st_mode & 0o777 == 0o600
        wb = load_workbook(f)
        header = [c.value for c in wb["Families"][1]]
        assert not {"Address", "Postcode"} & set(header)
        mh = [c.value for c in wb["Members"][1]]
        assert mh == ["Family reference", "Person", "Priority rank", "Age", "Sex", "Relationship"]
        seen_families |= {r[1] for r in wb["Families"].iter_rows(min_row=2, values_only=True)}
        for value in _cells(f):
            if isinstance(value, datetime):
                assert value.date() not in dobs
                continue
            if not isinstance(value, str):
                continue
            words = set(re.findall(r"[A-Za-z0-9'=\-]+", value))
            assert not (words & names), value
            assert not any(p in value for p in postcodes)
            assert not re.search(r"\bF\d{6}\b", value), value
            assert not (words & people)
            assert not re.search(r"\d{2}/\d{2}/\d{4}", value), value  # dates are months
    expected = {pseudonym(key, r, "H-") for r in refs}
    assert seen_families and seen_families <= expected
    # same key, same pseudonyms: a second run gives the same families
    again = runner.invoke(
        app,
        ["cohort", "lists", "--by", "locality", "--pseudonymise", "--sheets", "-p", proj],
    )
    assert again.exit_code == 0, again.output


def test_the_log_holds_no_personal_data(council: Path) -> None:
    import logging

    from tests.test_personal_data import personal_values

    proj = _proj(council)
    text = ""
    for args in (
        ["--log-level", "DEBUG", "cohort", "select", "--count", "3", "-p", proj],
        ["--log-level", "DEBUG", "cohort", "lists", "--by", "locality", "-p", proj],
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 0, result.output
        text += result.output
    logging.getLogger("familymatch").handlers.clear()
    assert "familymatch.rules.select: scored" in text  # the debug log is in what we search
    # area names (a surname like West is also in "North West") are not about a person
    lookup = pl.read_csv(council / "lookups" / "postcodes.csv")
    areas = {
        w for c in ("locality", "neighbourhood") for v in lookup[c].unique() for w in v.split()
    }
    values = personal_values(council) - areas
    words = set(re.findall(r"[A-Za-z0-9/\-]+", text))
    assert sorted(v for v in values if v in words or (" " in v and v in text)) == []


def test_crafted_values_are_text_in_the_writer(tmp_path: Path) -> None:
    from openpyxl import Workbook

    crafted = ["=1+1", "+SUM(A1:A2)", "-2+3", "@cmd", '=cmd|" /C calc"!A0', "=HYPERLINK(1)"]
    frame = pl.DataFrame(
        {
            "family_ref": [f"F00000{i}" for i in range(len(crafted))],
            "forename": crafted,
            "surname": crafted[::-1],
            "dob": [date(2001, 2, 3)] * len(crafted),
            "age": [11] * len(crafted),
        }
    )
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    write_frame(ws, frame, MEMBER_COLUMNS)  # type: ignore[arg-type]
    path = tmp_path / "crafted.xlsx"
    wb.save(path)
    back = load_workbook(path).active
    assert back is not None
    values = [(c.value, c.data_type) for row in back.iter_rows(min_row=2, max_col=3) for c in row]
    texts = [v for v, t in values if isinstance(v, str) and not v.startswith("F0")]
    assert sorted(texts) == sorted(crafted * 2)
    assert all(t == "s" for v, t in values if isinstance(v, str))
    assert all(c.is_date for c in back["D"][1:])


def test_a_failed_write_leaves_no_lists_and_no_selection(
    council: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import familymatch.family_lists as fl

    store = _store(council)
    calls = {"n": 0}
    real = fl.save_workbook

    def failing(wb: Any, path: Path) -> Path:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(wb, path)

    monkeypatch.setattr(fl, "save_workbook", failing)
    out = tmp_path / "lists"
    with pytest.raises(OSError):
        runner.invoke(
            app,
            ["cohort", "lists", "--all", "-p", _proj(council), "--out", str(out)],
            catch_exceptions=False,
        )
    assert list(out.iterdir()) == []
    before = latest_run(store, "select")
    calls["n"] = 1  # the selection workbook is the second save: it fails
    with pytest.raises(OSError):
        runner.invoke(
            app,
            [
                "cohort",
                "select",
                "--count",
                "2",
                "-p",
                _proj(council),
                "--out",
                str(out / "s.xlsx"),
            ],
            catch_exceptions=False,
        )
    assert latest_run(store, "select") == before
    assert list(out.iterdir()) == []


@pytest.mark.libreoffice
def test_libreoffice_opens_the_lists_and_the_selection(council: Path, tmp_path: Path) -> None:
    from familymatch.workbooks import libreoffice_opens

    result = _select(council, "--count", "3", "--json")
    assert result.exit_code == 0, result.output
    selection = Path(json.loads(result.output)["workbook"])
    result = runner.invoke(app, ["cohort", "lists", "-p", _proj(council), "--json"])
    assert result.exit_code == 0, result.output
    first = Path(json.loads(result.output)["files"][0])
    for path in (first, selection):
        pdf = libreoffice_opens(path, tmp_path / "pdf")
        assert pdf.stat().st_size > 1000
