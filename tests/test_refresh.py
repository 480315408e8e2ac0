"""A refresh: a build on new extracts keeps every attached family's reference and attachment,
and `cohort diff` reports attached families by state, new families and changed members."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest
from openpyxl import load_workbook

from claims.records import read_attachments, record_attachments
from claims.refresh import MEETS, NO_LONGER, NOT_FOUND, refresh_command, summary_lines
from familymatch.store import open_store, read_table
from familymatch.store import schema as s
from familymatch.store.engine import Store
from tests.test_store_families import build


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


@pytest.mark.libreoffice
def test_refresh_workbook_opens_in_libreoffice(tmp_path: Path) -> None:
    from familymatch.workbooks import libreoffice_opens

    store, _, _ = refreshed(tmp_path)
    out = tmp_path / "diff.xlsx"
    refresh_command(store, None, None, out)
    assert libreoffice_opens(out, tmp_path / "pdf").stat().st_size > 0
