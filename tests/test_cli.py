"""The command line end to end on a small synthetic council, and its failure modes."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from cli import app
from familymatch.errors import FamilyMatchError
from familymatch.store import open_store, read_table
from familymatch.store import schema as s
from familymatch.store.runs import recording_run

runner = CliRunner()


@pytest.fixture(scope="module")
def built(built_council: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "council"
    shutil.copytree(built_council, out)
    return out


def test_build_json_shape_and_database_permissions(built: Path) -> None:
    result = runner.invoke(
        app, ["cohort", "report", "-p", str(built / "familymatch.toml"), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["run_id"] == 1
    assert set(summary) >= {"run_id", "households_assessed", "cohort"}
    cohort = summary["cohort"]
    assert (
        cohort["total"]
        == sum(cohort["by_combination"].values())
        == sum(cohort["by_count"].values())
    )
    expected = json.loads((built / "truth" / "expected.json").read_text())["phase1"][
        "cohort_by_combination"
    ]
    assert abs(cohort["total"] - sum(expected.values())) <= 1
    assert os.stat(built / "familymatch.db").st_mode & 0o777 == 0o600
    rejects = pl.read_csv(built / "rejects" / "run-1-rejects.csv")
    assert rejects.columns == ["source", "row", "column", "reason"]
    assert rejects.height == 6  # the rows the generator planted as unreadable
    assert os.stat(built / "rejects" / "run-1-rejects.csv").st_mode & 0o777 == 0o600


def test_evaluate_show_explain_export(built: Path) -> None:
    proj = str(built / "familymatch.toml")
    result = runner.invoke(
        app, ["link", "evaluate", "--truth", str(built / "truth"), "-p", proj, "--json"]
    )
    assert result.exit_code == 0, result.output
    scores = json.loads(result.output)
    assert scores["persons"]["f1"] >= 0.98 and scores["households"]["f1"] >= 0.97
    assert scores["addresses"]["precision"] >= 0.99 and scores["addresses"]["f1"] >= 0.9

    store = open_store(f"sqlite:///{built / 'familymatch.db'}")
    cohort = read_table(store, s.cohort, 1).filter(pl.col("in_cohort")).sort("household_id")
    household = cohort["household_id"][0]
    shown = runner.invoke(app, ["cohort", "show", household, "-p", proj])
    assert shown.exit_code == 0, shown.output
    assert household in shown.output and "evidence" in shown.output
    assert "address entities" in shown.output and "joined by" in shown.output

    pairs = read_table(store, s.link_pairs, 1).filter(pl.col("stage") == "fs").sort("record_id_l")
    a, b = pairs.row(0)[:2]
    explained = runner.invoke(app, ["link", "explain", a, b, "-p", proj, "--json"])
    assert explained.exit_code == 0, explained.output
    data = json.loads(explained.output)
    assert set(data["fields"]) == {"fn", "sn", "dob", "loc", "sex", "mn"}
    assert (
        abs(
            data["prior_weight"]
            + sum(f["match_weight"] for f in data["fields"].values())
            - data["match_weight"]
        )
        < 0.01
    )

    out = built / "links.csv"
    exported = runner.invoke(app, ["link", "export", "--out", str(out), "-p", proj])
    assert exported.exit_code == 0, exported.output
    links = pl.read_csv(out)
    assert links.columns[:3] == ["record_id", "source", "row"]
    assert links.height == pl.read_parquet(built / "truth" / "records.parquet").height
    assert os.stat(out).st_mode & 0o777 == 0o600


def test_bad_project_file_exits_2_with_one_sentence(tmp_path: Path) -> None:
    bad = tmp_path / "familymatch.toml"
    bad.write_text(
        '[project]\nreference_date = "2012-06-01"\ncolour = "red"\n[[sources]]\nname="a"\nkind="benefits"\npath="a.csv"\n'
    )
    result = runner.invoke(app, ["cohort", "build", "-p", str(bad)])
    assert result.exit_code == 2
    assert "project.colour: unknown key" in result.output
    assert not (tmp_path / "familymatch.db").exists()


def test_missing_extract_leaves_no_run(built: Path, tmp_path: Path) -> None:
    copy = tmp_path / "c"
    shutil.copytree(built, copy)
    (copy / "extracts" / "exclusions.csv").unlink()
    result = runner.invoke(app, ["cohort", "build", "-p", str(copy / "familymatch.toml")])
    assert result.exit_code == 2
    assert "source 'exclusions' (exclusions.csv): the file does not exist." in result.output
    store = open_store(f"sqlite:///{copy / 'familymatch.db'}")
    with store.engine.connect() as conn:
        statuses = [r.status for r in conn.execute(s.runs.select().order_by(s.runs.c.id))]
        records = conn.execute(s.records.select().where(s.records.c.run_id == 2)).fetchall()
    assert statuses == ["complete", "failed"]
    assert records == []


def test_second_build_while_one_runs_is_refused(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    refused = rf"another build \(run 1\) is in progress on sqlite:///{tmp_path}/x.db"
    with recording_run(store, "build") as first, pytest.raises(FamilyMatchError, match=refused):
        assert first.run_id == 1
        with recording_run(store, "build"):
            pass
    with recording_run(store, "build") as third:
        assert third.run_id == 2  # the refused attempt left no run behind
    with store.engine.connect() as conn:
        rows = [(r.id, r.status) for r in conn.execute(s.runs.select().order_by(s.runs.c.id))]
        locks = conn.execute(s.locks.select()).fetchall()
    assert rows == [(1, "complete"), (2, "complete")]
    assert locks == []


def test_demo_runs_every_step(debug_demo: tuple[Path, str]) -> None:
    folder, output = debug_demo  # the demo at debug level: its log is on stderr, beside this
    assert "planted vs found" in output
    assert "persons    precision" in output
    assert "of the £2,480,000.00 maximum" in " ".join(output.split())
    lists = sorted((folder / "lists").glob("select-run-2-by-locality/*.xlsx"))
    assert lists and (folder / "selections" / "selection-run-2.xlsx").is_file()
    assert "caseworker list(s) by locality" in output
    # the family the demo suggests looking at is named by its reference, and it works
    suggested = re.search(r"familymatch cohort show (F\d{6}) -p", output)
    assert suggested is not None
    proj = str(folder / "familymatch.toml")
    shown = runner.invoke(app, ["cohort", "show", suggested.group(1), "-p", proj])
    assert shown.exit_code == 0 and shown.stdout.startswith(f"{suggested.group(1)} (household")


def test_ingest_command_counts_and_writes_rejects(tmp_path: Path) -> None:
    shutil.copytree(Path(__file__).resolve().parents[1] / "fixtures" / "sample", tmp_path / "s")
    sample = tmp_path / "s" / "familymatch.toml"
    out = tmp_path / "rejects.csv"
    result = runner.invoke(app, ["ingest", "-p", str(sample), "--rejects", str(out)])
    assert result.exit_code == 0, result.output
    assert "exclusions: 3 row(s), column 'Start Date': not a valid date" in result.output
    rejects = pl.read_csv(out)
    assert rejects.group_by("source").len().sort("source").rows() == [
        ("exclusions", 3),
        ("school_census", 3),
    ]
    assert os.stat(out).st_mode & 0o777 == 0o600


def test_explain_household_rates_by_group_and_model_reuse(built: Path, tmp_path: Path) -> None:
    proj = str(built / "familymatch.toml")
    store = open_store(f"sqlite:///{built / 'familymatch.db'}")
    members = read_table(store, s.membership, 1)
    household = (
        members.group_by("household_id")
        .len()
        .sort(["len", "household_id"], descending=[True, False])["household_id"][0]
    )
    result = runner.invoke(app, ["link", "explain", "--household", household, "-p", proj, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected_people = (
        members.filter(pl.col("household_id") == household)["person_id"].unique().sort().to_list()
    )
    assert [p["person_id"] for p in data["members"]] == expected_people
    assert all(p["joined_household_by"] for p in data["members"])
    # the address entity that joined them, every way it was written, and why
    reasons = [r for p in data["members"] for r in p["joined_household_by"]]
    at = {r.removeprefix("address:") for r in reasons if r.startswith("address:")}
    entities = {a["address_id"]: a for a in data["addresses"]}
    assert at and at <= set(entities)
    for entity in entities.values():
        assert entity["variants"] and all(v["why"] for v in entity["variants"])
        assert sum(v["records"] for v in entity["variants"]) == entity["records"]

    rates = runner.invoke(
        app,
        ["link", "evaluate", "--truth", str(built / "truth"), "-p", proj, "--by-group", "--json"],
    )
    assert rates.exit_code == 0, rates.output
    groups = {(r["group"], r["value"]) for r in json.loads(rates.output)["link_rates"]}
    assert ("source", "school_census") in groups and ("age_band", "5-10") in groups

    copy = tmp_path / "again"
    shutil.copytree(built, copy)
    again = runner.invoke(
        app,
        [
            "cohort",
            "build",
            "-p",
            str(copy / "familymatch.toml"),
            "--model-from-run",
            "1",
            "--json",
        ],
    )
    assert again.exit_code == 0, again.output
    store2 = open_store(f"sqlite:///{copy / 'familymatch.db'}")
    m1 = read_table(store2, s.link_models, 1)["model_json"][0]
    m2 = read_table(store2, s.link_models, 2)["model_json"][0]
    assert m1 == m2
    assert (
        read_table(store2, s.membership, 2)
        .sort("record_id")
        .equals(read_table(store2, s.membership, 1).sort("record_id"))
    )


def test_same_inputs_same_cohort_every_time(tmp_path: Path) -> None:
    from rules.build import build_cohort

    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample"
    frames = []
    for name in ("a", "b"):
        shutil.copytree(sample, tmp_path / name)
        result = build_cohort(tmp_path / name / "familymatch.toml")
        frames.append(
            (
                result.linked.membership,
                result.evaluation.evidence,
                result.evaluation.cohort,
                result.linked.link.model.to_json(),
            )
        )
    (m1, e1, c1, j1), (m2, e2, c2, j2) = frames
    assert m1.equals(m2) and e1.equals(e2) and c1.equals(c2)
    assert j1 == j2


def test_cohort_report_workbook(built: Path, tmp_path: Path) -> None:
    import openpyxl

    out = tmp_path / "profile.xlsx"
    result = runner.invoke(
        app, ["cohort", "report", "1", "-p", str(built / "familymatch.toml"), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert os.stat(out).st_mode & 0o777 == 0o600
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["Summary", "Cross-reference", "Areas", "Schools", "Ages"]
    summary = wb["Summary"]
    assert len(summary._charts) == 1  # noqa: SLF001
    expected = json.loads(
        runner.invoke(
            app, ["cohort", "report", "1", "-p", str(built / "familymatch.toml"), "--json"]
        ).output
    )
    by_count = {
        str(r[0].value): r[1].value
        for r in summary.iter_rows(min_row=4, max_row=5)
        if r[0].value is not None
    }
    assert by_count == {k: v for k, v in expected["cohort"]["by_count"].items()}
    areas = [r for r in wb["Areas"].iter_rows(min_row=2, values_only=True)]
    assert sum(r[3] for r in areas) == expected["cohort"]["total"]
    assert all(r[0] != "not in lookup" for r in areas)


def test_cohort_diff_db_upgrade_and_unchanged_files(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample"
    shutil.copytree(sample, tmp_path / "c")
    proj = str(tmp_path / "c" / "familymatch.toml")
    first = runner.invoke(app, ["cohort", "build", "-p", proj, "--json"])
    assert first.exit_code == 0, first.output
    # refreshed extract: the same benefit claims in another order
    path = tmp_path / "c" / "extracts" / "benefits.csv"
    lines = path.read_bytes().split(b"\r\n")
    path.write_bytes(b"\r\n".join([lines[0], *reversed([x for x in lines[1:] if x]), b""]))
    second = runner.invoke(app, ["cohort", "build", "-p", proj, "--json"])
    assert second.exit_code == 0, second.output
    diff = runner.invoke(app, ["cohort", "diff", "1", "2", "-p", proj, "--json"])
    assert diff.exit_code == 0, diff.output
    d = json.loads(diff.output)
    total = json.loads(first.output)["cohort"]["total"]
    assert (d["joined"], d["left"], d["changed"], d["unchanged"]) == ([], [], [], total)
    store = open_store(f"sqlite:///{tmp_path / 'c' / 'familymatch.db'}")
    from familymatch.store.runs import run_info

    unchanged = json.loads(run_info(store, 2)["summary"])["unchanged_since_run"]
    assert unchanged.get("school_census") == 1 and "benefits" not in unchanged
    upgraded = runner.invoke(app, ["db", "upgrade", "-p", proj])
    assert upgraded.exit_code == 0, upgraded.output
    assert "-> 0005" in upgraded.output


def test_commands_that_read_personal_data_are_audited(tmp_path: Path) -> None:
    from familymatch.store import read_audit_log

    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample"
    shutil.copytree(sample, tmp_path / "c")
    proj = str(tmp_path / "c" / "familymatch.toml")
    assert runner.invoke(app, ["ingest", "-p", proj]).exit_code == 0
    assert runner.invoke(app, ["cohort", "build", "-p", proj, "--json"]).exit_code == 0
    assert (
        runner.invoke(
            app, ["link", "export", "--out", str(tmp_path / "l.csv"), "-p", proj]
        ).exit_code
        == 0
    )
    log = read_audit_log(open_store(f"sqlite:///{tmp_path / 'c' / 'familymatch.db'}"))
    commands = log["command"].to_list()
    assert commands == ["ingest", "cohort build", "link export"], commands
    assert log["run_id"].to_list()[-1] == 1
    assert log.filter(pl.col("command") == "ingest")["n_files"].to_list() == [14]
    assert log["os_user"].null_count() == 0


def in_cohort_family(built: Path) -> tuple[str, str]:
    """(family reference, household id) of the build's first cohort family by reference."""
    store = open_store(f"sqlite:///{built / 'familymatch.db'}")
    cohort = read_table(store, s.cohort, 1).filter(pl.col("in_cohort"))
    refs = read_table(store, s.households, 1).join(cohort, on="household_id").sort("family_ref")
    return refs["family_ref"][0], refs["household_id"][0]


def test_cohort_show_by_reference_reads_at_80_columns(built: Path) -> None:
    proj = str(built / "familymatch.toml")
    ref, household = in_cohort_family(built)
    shown = runner.invoke(app, ["cohort", "show", ref, "-p", proj])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(f"{ref} (household {household}), run 1: criteria met: ")
    assert max(len(line) for line in lines) <= 80 and "…" not in shown.stdout
    doc = json.loads(runner.invoke(app, ["cohort", "show", ref, "-p", proj, "--json"]).stdout)
    assert (doc["family_ref"], doc["household_id"], doc["run_id"]) == (ref, household, 1)
    store = open_store(f"sqlite:///{built / 'familymatch.db'}")
    evidence = read_table(store, s.evidence, 1, household_id=household)
    assert len(doc["evidence"]) == evidence.height > 0
    assert f"evidence ({evidence.height} source rows)" in shown.stdout
    words = set(shown.stdout.split())
    for r in evidence.iter_rows(named=True):  # every row whole on one line, names never cut
        assert f"{r['criterion']} / {r['indicator']}:" in shown.stdout
        assert f"  {r['source']} row {r['row']}, person {r['person_id']}" in shown.stdout
    members = doc["members"]
    assert {m["person_id"] for m in members} <= words
    # the short form and the internal id name the same family
    short = "f" + ref.lstrip("F0")
    again = runner.invoke(app, ["cohort", "show", short, "-p", proj, "--json"])
    assert json.loads(again.stdout)["household_id"] == household
    by_id = runner.invoke(app, ["cohort", "show", household, "-p", proj, "--json"])
    assert json.loads(by_id.stdout)["family_ref"] == ref


def test_unknown_family_names_the_run_searched(built: Path) -> None:
    proj = str(built / "familymatch.toml")
    result = runner.invoke(app, ["cohort", "show", "F999999", "-p", proj])
    assert result.exit_code != 0 and result.stdout == ""
    assert "family F999999 is not in run 1 (the run searched), nor in any other complete build" in (
        " ".join(result.stderr.split())
    )


def test_link_explain_prints_a_waterfall_for_a_person(built: Path) -> None:
    proj = str(built / "familymatch.toml")
    store = open_store(f"sqlite:///{built / 'familymatch.db'}")
    pairs = read_table(store, s.link_pairs, 1).filter(pl.col("stage") == "fs").sort("record_id_l")
    a, b = pairs.row(0)[:2]
    text = runner.invoke(app, ["link", "explain", a, b, "-p", proj])
    assert text.exit_code == 0, text.output
    doc = json.loads(runner.invoke(app, ["link", "explain", a, b, "-p", proj, "--json"]).stdout)
    rows = {
        cells[0]: cells
        for line in text.stdout.splitlines()
        if "│" in line and (cells := [c.strip() for c in line.split("│")[1:-1]])[0]
    }
    from familymatch.link.explain_text import FIELD_LABELS as labels
    from familymatch.link.explain_text import with_frequency

    assert set(labels) == set(doc["fields"]) and labels["dob"] == "date of birth"
    running = doc["prior_weight"]
    assert rows["prior"][2:4] == [f"{running:+.2f}"] * 2
    for field, label in labels.items():
        level = doc["fields"][field]
        running += level["match_weight"]
        # the level (with the share of people holding the value when a frequency adjusted the
        # weight), wrapped at 80 columns
        assert with_frequency(level).startswith(rows[label][1])
        assert rows[label][2:4] == [f"{level['match_weight']:+.2f}", f"{running:+.2f}"]
    assert rows["total"][3] == f"{doc['match_weight']:+.2f}" == f"{running:+.2f}"
    assert "the threshold 0.5 (match weight +0.00)" in text.stdout
    assert f"decision: {doc['pair_decision']}" in " ".join(text.stdout.split())


def test_link_explain_household_by_reference(built: Path) -> None:
    proj = str(built / "familymatch.toml")
    ref, household = in_cohort_family(built)
    text = runner.invoke(app, ["link", "explain", "--household", ref, "-p", proj])
    assert text.exit_code == 0, text.output
    doc = json.loads(
        runner.invoke(app, ["link", "explain", "--household", ref, "-p", proj, "--json"]).stdout
    )
    assert (doc["family_ref"], doc["household_id"]) == (ref, household)
    assert text.stdout.startswith(f"{ref} (household {household}): {len(doc['members'])} people")
    for person in doc["members"]:
        assert person["person_id"] in text.stdout
    stages = {link["stage"] for p in doc["members"] for link in p["record_links"]}
    assert "fs" in stages and "weight" in text.stdout
    assert "address" in text.stdout
