"""A refresh: a build on new extracts keeps every attached family's reference and attachment,
and `cohort diff` reports attached families by state, new families and changed members."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from claims.records import read_attachments, record_attachments
from claims.refresh import (
    MEETS,
    NO_LONGER,
    NOT_FOUND,
    Households,
    family_lines,
    refresh_command,
    refresh_report,
    summary_lines,
)
from familymatch.store import open_store, read_table, recording_run
from familymatch.store import schema as s
from familymatch.store.engine import Store
from familymatch.store.families import previous_members
from familymatch.store.members import (
    Forenames,
    compare_builds,
    identity_keys,
    member_changes,
    members_as_people,
    slips,
)
from familymatch.store.members import build_people as people_of_build
from fixtures.generate import GenerateSummary
from tests.test_store_families import build, cohort


def attach(store: Store, run: int, refs: dict[str, str]) -> None:
    rows = pl.DataFrame(
        {
            "family_ref": list(refs),
            "household_id": list(refs.values()),
            "key_worker": ["KW"] * len(refs),
            "team": ["T"] * len(refs),
            "attached_on": [date(2012, 7, 2)] * len(refs),
            "source_row": list(range(1, len(refs) + 1)),
        }
    )
    record_attachments(store, run, rows, "allocation.csv")


def refreshed(tmp_path: Path) -> tuple[Store, int, int]:
    store = open_store(f"sqlite:///{tmp_path / 'r.db'}")
    first = build(
        store,
        {
            "H1": ["a", "b", "c"],
            "H2": ["d", "e"],
            "H3": ["f", "g"],
            "H4": ["h", "m", "n"],
            "H5": ["i", "j"],
        },
        {
            "H1": "crime+work",
            "H2": "education+work",
            "H3": "crime+work",
            "H4": None,
            "H5": "crime+education",
        },
    )
    attach(store, first, {"F000001": "H1", "F000002": "H2", "F000003": "H3", "F000005": "H5"})
    # new extracts: k joins H1; H2 no longer meets the criteria; H3 breaks up (f moves in with
    # H4 and H5, g is gone); H4 (3 people, not attached) and H5 (2, attached) now one household;
    # p and q are a new cohort family
    second = build(
        store,
        {
            "X1": ["a", "b", "c", "k"],
            "X2": ["d", "e"],
            "X4": ["h", "m", "n", "i", "j", "f"],
            "X5": ["p", "q"],
        },
        {"X1": "crime+work", "X2": None, "X4": "crime+education+work", "X5": "crime+work"},
    )
    return store, first, second


def test_a_merge_keeps_the_attached_familys_reference(tmp_path: Path) -> None:
    store, _, second = refreshed(tmp_path)
    refs = read_table(store, s.households, second).select("household_id", "family_ref")
    # X4 shares three people with H4 and two with the attached H5: H5's reference wins
    assert sorted(refs.rows()) == [
        ("X1", "F000001"),
        ("X2", "F000002"),
        ("X4", "F000005"),
        ("X5", "F000006"),
    ]


def test_refresh_reports_attached_families_new_families_and_members(tmp_path: Path) -> None:
    store, first, second = refreshed(tmp_path)
    out = tmp_path / "diff.xlsx"
    r = refresh_command(store, None, None, out)
    assert (r.diff.run_a, r.diff.run_b) == (first, second)
    assert r.attached.select(
        "family_ref",
        "criteria_at_attachment",
        "status",
        "criteria_now",
        "household_id",
        "members_joined",
        "members_left",
        "members_now_in",
    ).rows() == [
        ("F000001", "crime+work", MEETS, "crime+work", "X1", 1, 0, None),
        ("F000002", "education+work", NO_LONGER, None, "X2", 0, 0, None),
        ("F000003", "crime+work", NOT_FOUND, None, None, 0, 0, "F000005"),
        ("F000005", "crime+education", MEETS, "crime+education+work", "X4", 4, 0, None),
    ]
    assert r.new_families.rows() == [("F000006", "X5", "crime+work")]
    assert r.members_changed.rows() == [
        ("F000001", "X1", True, True, 3, 4, 1, 0),
        ("F000005", "X4", True, True, 2, 6, 4, 0),
    ]
    c = r.counts()
    assert (c["attached"], c["attached_meet_criteria"], c["attached_no_longer_meet_criteria"]) == (
        4,
        2,
        1,
    )
    assert (c["attached_not_found"], c["new_families"], c["left"], c["changed"]) == (1, 1, 2, 1)
    assert summary_lines(r)[1].startswith(
        "4 attached families: 2 still meet the criteria, 1 no longer meet them and 1 are not "
        "found as one household. They all stay attached"
    )
    # the attachments themselves are untouched by the rebuild
    assert sorted(read_attachments(store)["family_ref"]) == [
        "F000001",
        "F000002",
        "F000003",
        "F000005",
    ]
    wb = load_workbook(out)
    assert wb.sheetnames == [
        "Summary",
        "Attached",
        "New families",
        "Left the cohort",
        "Changed criteria",
        "Members changed",
    ]
    assert [c.value for c in wb["Attached"]["E"]][1:] == [MEETS, NO_LONGER, NOT_FOUND, MEETS]
    assert out.stat().st_mode & 0o777 == 0o600


def test_the_diff_as_it_stood_when_the_later_build_was_made(tmp_path: Path) -> None:
    """The demo attaches families from the later build before its diff is made: with
    ``attached_before`` the later attachments are not counted; every build's households are read
    once by a kept :class:`Households`."""
    store, first, second = refreshed(tmp_path)
    before = refresh_report(store, first, second).counts()
    attach(store, second, {"F000006": "X5"})
    assert refresh_report(store, first, second).counts()["attached"] == 5
    households = Households(store)
    kept = refresh_report(store, first, second, attached_before=second, households=households)
    assert kept.counts() == before
    assert kept.new_families["family_ref"].to_list() == ["F000006"]
    assert sorted(households.read) == [first, second]
    again = refresh_report(store, first, second, attached_before=second, households=households)
    assert again.counts() == before


@pytest.mark.libreoffice
def test_refresh_workbook_opens_in_libreoffice(tmp_path: Path) -> None:
    from familymatch.workbooks import libreoffice_opens

    store, _, _ = refreshed(tmp_path)
    out = tmp_path / "diff.xlsx"
    refresh_command(store, None, None, out)
    assert libreoffice_opens(out, tmp_path / "pdf").stat().st_size > 0


def people(groups: dict[str, dict[str, list[str]]]) -> pl.DataFrame:
    """household -> person -> keys, as a build stores them (household_id, person_id,
    person_key)."""
    return pl.DataFrame(
        [(hh, p, k) for hh, ps in groups.items() for p, ks in ps.items() for k in ks],
        schema=["household_id", "person_id", "person_key"],
        orient="row",
    )


def build_people(store: Store, groups: dict[str, dict[str, list[str]]]) -> int:
    with recording_run(store, "build") as run:
        run.add(s.households, pl.DataFrame({"household_id": list(groups)}))
        run.add(s.cohort, cohort(dict.fromkeys(groups, "crime+work")))
        run.assign_family_refs(people(groups))
    return run.run_id


SMITH = {
    "P1": ["nino:AB1", "name:SMITH|JOHN|1980-01-02"],  # a benefit claim and an ASB record
    "P2": ["upn:U1", "name:SMITH|AMY|2005-03-04"],
}
JONES = {"P3": ["nino:CD2", "name:JONES|ANN|1979-05-06"], "P4": ["upn:U2"]}


def test_members_are_compared_as_people_not_record_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'p.db'}")
    first = build_people(store, {"H1": SMITH, "H2": JONES})
    # renumbered people; John's ASB record reads SMTIH in the new extract, his claim does not;
    # a child (new UPN, new name) joined the Joneses
    typo = {
        "Q7": ["nino:AB1", "name:SMITH|JOHN|1980-01-02", "name:SMTIH|JOHN|1980-01-02"],
        "Q8": SMITH["P2"],
    }
    joined = {"Q1": JONES["P3"], "Q2": JONES["P4"], "Q3": ["upn:U9", "name:JONES|TOM|2012-01-01"]}
    second = build_people(store, {"X1": typo, "X2": joined})
    r = refresh_report(store, first, second)
    assert r.warnings == []
    assert r.members_changed.select(
        "family_ref", "members_before", "members_now", "joined", "left"
    ).rows() == [("F000002", 2, 3, 1, 0)]
    assert (
        "F000002: 1 person joined, 0 people left (2 -> 3 people)"
        in dict(family_lines(r))["members changed"]
    )
    # compared key by key (each key a member), Tom's two keys read as two members who joined;
    # the typo key SMTIH|JOHN is taken for a split of SMITH|JOHN (same forename, one slip)
    old, new = (
        members_as_people(previous_members(store, run).drop("person_id"))[0]
        for run in (first, second)
    )
    by_key = member_changes(old, new)
    assert by_key.select("family_ref", "joined", "left").rows() == [("F000002", 2, 0)]


def test_a_person_who_moves_leaves_one_family_and_joins_another(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'm.db'}")
    first = build_people(store, {"H1": SMITH, "H2": JONES})
    # Amy (P2) now lives with the Joneses, known there only by her UPN
    second = build_people(
        store,
        {"X1": {"Q1": SMITH["P1"]}, "X2": {**JONES, "Q2": ["upn:U1"]}},
    )
    r = refresh_report(store, first, second)
    assert r.members_changed.select("family_ref", "joined", "left").rows() == [
        ("F000001", 0, 1),
        ("F000002", 1, 0),
    ]


def test_builds_recorded_before_person_ids_are_compared_key_by_key(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'o.db'}")
    first = build(store, {"H1": ["nino:AB1", "upn:U1"]}, {"H1": "crime+work"})  # no person ids
    second = build_people(store, {"X1": {"Q1": ["nino:AB1", "name:SMITH|JOHN|1980-01-02"]}})
    r = refresh_report(store, first, second)
    assert r.warnings == [
        f"build {first} was recorded before person ids were kept: its members are compared key "
        "by key, so a typo in a record can read as one member who left and another who joined "
        "(rebuild it to compare people)."
    ]
    assert r.counts()["members_compared_as"] == "keys"
    # the old build's keys are its members: upn:U1 left; Q1 shares nino:AB1 and stays
    assert r.members_changed.select("members_before", "members_now", "joined", "left").rows() == [
        (2, 1, 0, 1)
    ]
    assert summary_lines(r)[-1] == r.warnings[0]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("THOMPSON|KATE|1953-11-26", "THOMPOSN|KATE|1953-11-26", 1),  # two letters swapped
        ("GREEN|HANNAH|1997-09-26", "GREEN|HANNAH|1997-09-02", 1),  # the day mistyped
        ("GREEN|HANNAH|1997-09-02", "GREEN|HANNAH|1997-02-09", 1),  # day and month swapped
        ("JENKINS|TREVOR|1961-04-08", "JNEKINS|TREVOR|1961-04-03", 2),
        ("EVANS|HAMZA|2007-08-26", "HAMZA|EVANS|2007-08-26", 1),  # surname and forename swapped
        ("RICHARDSON|HELEN|1993-05-01", "EDWARDS|HELEN|1993-05-01", 2),  # a new surname
        ("JONES|SAMUEL|2008-07-16", "JONES|SAM|2008-07-16", 1),  # a short form
        ("SMITH|JACK|2005-01-01", "SMITH|JAKE|2005-01-01", None),  # twins
        ("SMITH|AMY|2005-01-01", "SMITH|AMY|2009-03-07", None),
        ("SMITH|AMY|2005-01-01", "JONES|AMIE|2005-01-01", None),
    ],
)
def test_slips_tell_one_persons_keying_slips_from_two_people(
    a: str, b: str, expected: int | None
) -> None:
    assert slips(f"name:{a}", f"name:{b}") == expected


def test_a_person_known_only_by_name_with_a_typo_is_no_change(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    only_name = {"P5": ["name:HOWARD|MAGDALENA|1952-09-21"], "P6": ["upn:U5"]}
    first = build_people(store, {"H1": only_name, "H2": JONES})
    typo = {"Q1": ["name:HOWARD|MGADALENA|1952-09-21"], "Q2": ["upn:U5"]}
    tom = {"Q3": ["name:JONES|TOM|2012-01-01"]}
    second = build_people(store, {"X1": typo, "X2": {**JONES, **tom}})
    # Magdalena is the same person; Tom joined the Joneses
    r = refresh_report(store, first, second)
    assert r.members_changed.select("family_ref", "joined", "left").rows() == [("F000002", 1, 0)]
    # his twin Tim joins too: Tom keeps his key, so Tim is not taken for him
    tim = {"Q4": ["name:JONES|TIM|2012-01-01"]}
    third = build_people(store, {"Y1": typo, "Y2": {**JONES, **tom, **tim}})
    r = refresh_report(store, second, third)
    assert r.members_changed.select("family_ref", "members_now", "joined", "left").rows() == [
        ("F000002", 4, 1, 0)
    ]


def keyed(families: Families) -> pl.DataFrame:
    """family_ref, person, person_key from {family: {person: [keys]}}."""
    rows = [(f, p, k) for f, ps in families.items() for p, keys in ps.items() for k in keys]
    return pl.DataFrame(rows, schema=["family_ref", "person", "person_key"], orient="row")


Families = dict[str, dict[str, list[str]]]


def changed(before: Families, after: Families, **seen: int) -> list[tuple]:
    out = member_changes(keyed(before), keyed(after), Forenames(dict(seen)))
    return out.select("family_ref", "joined", "left").rows()


def test_people_without_a_date_of_birth_or_by_a_mistyped_short_name_are_no_change() -> None:
    before = {
        "F1": {"P1": ["nino:AB1", "who:DOYLE|FREYA|2007-02-26"], "P2": ["upn:U2"]},
        "F2": {"P3": ["name:LEE|WILLIAM|2003-10-12", "who:LEE|WILLIAM|2003-10-12"]},
    }
    # Freya's record has no date of birth now (no key); William is BLL (BILL mistyped)
    after = {
        "F1": {"Q1": ["who:DOYLE|FREYA|"], "Q2": ["upn:U2"]},
        "F2": {"Q3": ["who:LEE|BLL|2003-10-12"]},
    }
    assert changed(before, after, BLL=1, BILL=30) == []
    # BLL as often as BILL would be a name: two people
    assert changed(before, after, BLL=20, BILL=30) == [("F2", 1, 1)]


def test_a_person_our_build_split_is_one_person_but_twins_stay_two() -> None:
    jack = ["name:HUGHES|JACK|2002-05-05"]
    split = {"F1": {"P1": jack, "P2": ["who:HUGHES|JACK|2002-05-08"]}}
    assert changed(split, {"F1": {"Q1": jack}}) == []
    assert changed({"F1": {"Q1": jack}}, split) == []
    # a one-slip typo of the forename is a split only when it is a typo: rare beside JACK
    typo = {"F1": {"P1": jack, "P2": ["who:HUGHES|JCK|2002-05-05"]}}
    assert changed(typo, {"F1": {"Q1": jack}}, JCK=1, JACK=40) == []
    assert changed(typo, {"F1": {"Q1": jack}}, JCK=1, JACK=5) == [("F1", 0, 1)]
    # twins: Tim left, Tom stayed; then Tim came back. TIM is a name (the nickname table)
    # however rarely the city sees it
    twins = {"F1": {"P1": ["name:JONES|TOM|2012-01-01"], "P2": ["name:JONES|TIM|2012-01-01"]}}
    tom = {"F1": {"Q1": ["name:JONES|TOM|2012-01-01"]}}
    assert changed(twins, tom, TIM=1, TOM=100) == [("F1", 0, 1)]
    assert changed(tom, twins, TIM=1, TOM=100) == [("F1", 1, 0)]


def test_identity_keys_name_every_record_with_a_name_even_without_a_date_of_birth() -> None:
    std = pl.DataFrame(
        {
            "record_id": ["r1", "r2", "r3"],
            "sn": ["DOYLE", "DOYLE", None],
            "fn": ["FREYA", "FREYA", "AMY"],
            "dob": [date(2007, 2, 26), None, date(2001, 1, 1)],
        }
    )
    membership = pl.DataFrame(
        {"record_id": ["r1", "r2", "r3"], "person_id": ["P1", "P2", "P3"], "household_id": "H"}
    )
    assert identity_keys(std, membership).sort("person_id").rows() == [
        ("H", "P1", "who:DOYLE|FREYA|2007-02-26"),
        ("H", "P2", "who:DOYLE|FREYA|"),
    ]
    seen = Forenames.of(pl.Series("fn", ["JACK"] * 10 + ["JCK", "JAKE", None]))
    assert seen.counts == {"JACK": 10, "JCK": 1, "JAKE": 1}
    assert [seen.typo(n) for n in ("JCK", "JAKE", "JACK")] == [True, False, False]


def cohort_build(project: str) -> int:
    from typer.testing import CliRunner

    from cli import app

    result = CliRunner().invoke(app, ["cohort", "build", "-p", project, "--json"])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.stdout)["run_id"])


def test_a_builds_people_include_those_known_without_a_date_of_birth(built_council: Path) -> None:
    store = open_store(f"sqlite:///{built_council / 'familymatch.db'}")
    people = people_of_build(store, 1)
    stored = members_as_people(previous_members(store, 1))[0]
    key_less = people.people.join(stored.select("person").unique(), on="person", how="anti")
    assert people.by_person and people.forenames.len() == read_table(store, s.records, 1).height
    # people with no stored key (no NINO, UPN or date of birth) are members too, by name only
    assert key_less.height > 0
    assert key_less["person_key"].str.ends_with("|").all()
    assert compare_builds(people, people).height == 0


@pytest.mark.slow
def test_a_refreshed_extract_with_a_date_of_birth_missing_changes_no_family(
    tmp_path: Path,
) -> None:
    sample = Path(__file__).resolve().parents[1] / "fixtures" / "sample"
    shutil.copytree(sample, tmp_path / "c")
    project = str(tmp_path / "c" / "familymatch.toml")
    store = open_store(f"sqlite:///{tmp_path / 'c' / 'familymatch.db'}")
    first = cohort_build(project)
    # the refreshed benefit extract lists Jessica Warren (a dependant: no other record) with no
    # date of birth, so she has no key in the second build
    path = tmp_path / "c" / "extracts" / "benefit_members.csv"
    text = path.read_text()
    path.write_text(text.replace('"WARREN, JESSICA",11/03/2008', '"WARREN, JESSICA",'))
    second = cohort_build(project)
    a, b = people_of_build(store, first), people_of_build(store, second)
    assert compare_builds(a, b).height == 0
    # by the stored keys alone she is a member who left
    old, new = (members_as_people(previous_members(store, r))[0] for r in (first, second))
    keys_only = member_changes(old, new)
    assert keys_only.select("members_before", "members_now", "joined", "left").rows() == [
        (3, 2, 0, 1)
    ]


@pytest.mark.slow
def test_a_builds_people_from_its_own_frames_equal_those_read_back(
    small_council: tuple[Path, GenerateSummary], tmp_path: Path
) -> None:
    """The demo hands the diff each build's identities from the build's frames
    (``identities_of``) instead of reading its records back and standardising them again: the
    people are the same."""
    from familymatch.store.members import identities_of
    from rules.build import build_cohort

    folder = tmp_path / "c"
    shutil.copytree(small_council[0], folder)
    result = build_cohort(folder / "familymatch.toml")
    store = open_store(f"sqlite:///{folder / 'familymatch.db'}")
    read_back = people_of_build(store, result.run_id)
    handed = people_of_build(
        store, result.run_id, identities_of(result.linked.std, result.linked.membership)
    )
    assert read_back.by_person and handed.by_person
    assert read_back.people.height > 1_000
    assert read_back.people.sort(pl.all()).equals(handed.people.sort(pl.all()))
    assert read_back.forenames.sort().equals(handed.forenames.sort())
