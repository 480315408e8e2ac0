"""Linkage: the hard cases one by one, blocking limits, model persistence, and quality on a
small synthetic council."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from familymatch.canonical import conform
from familymatch.errors import ConfigError
from familymatch.link import LinkConfig, link_records
from familymatch.link.blocking import BlockingRule
from familymatch.link.evaluate import evaluate_links, pairwise_scores
from familymatch.link.explain import explain_pair
from familymatch.link.model import FSModel
from familymatch.standardise import standardise


def people(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = []
    for i, r in enumerate(rows, start=1):
        src = str(r.pop("source", "a"))
        base.append({"record_id": f"{src}:{i}", "source": src, "kind": "population", "row": i, **r})
    return standardise(conform(pl.DataFrame(base, infer_schema_length=None)))


def background(n: int = 400) -> list[dict[str, object]]:
    """Unrelated people so the model has a population to learn from."""
    first = ["ALAN", "BETH", "CARL", "DINA", "ERIC", "FAYE", "GARY", "HOLLY", "IVAN", "JUNE"]
    last = ["ASH", "BIRCH", "CEDAR", "DOVE", "ELM", "FINCH", "GROVE", "HAZEL", "IVY", "JAY"]
    rows = []
    for i in range(n):
        person = {
            "forename": first[i % 10],
            "surname": last[(i // 10) % 10] + str(i // 100),
            "dob": date(1950 + i % 60, 1 + i % 12, 1 + i % 28),
            "postcode": f"PL{1 + i % 9} {i % 10}AB",
            "address": f"{i} Long Road",
        }
        rows.append({**person, "source": "a"})
        if i % 2 == 0:  # half of them appear again in another source, slightly different
            rows.append({**person, "source": "b", "address": f"{i} Long Rd"})
    return rows


def persons_of(rows: list[dict[str, object]], **cfg: object) -> dict[str, str]:
    std = people(background() + rows)
    result = link_records(std, LinkConfig(**cfg))  # type: ignore[arg-type]
    return dict(result.persons.select("record_id", "person_id").iter_rows())


def ids(n_background: int = 400) -> int:
    return n_background + n_background // 2


def test_twins_stay_apart_nickname_and_typo_link() -> None:
    base = ids()
    rows = [
        {
            "forename": "Robert",
            "surname": "Quill",
            "dob": date(2004, 5, 6),
            "postcode": "PL3 9XY",
            "address": "7 Mill Lane",
            "source": "c",
        },
        {
            "forename": "Bob",
            "surname": "Quil",
            "dob": date(2004, 5, 6),
            "postcode": "PL3 9XY",
            "address": "7 Mill Ln",
            "source": "d",
        },
        {
            "forename": "Susan",
            "surname": "Quill",
            "dob": date(2004, 5, 6),
            "postcode": "PL3 9XY",
            "address": "7 Mill Lane",
            "source": "c",
        },
    ]
    p = persons_of(rows)
    robert, bob, susan = (f"{s}:{base + i}" for s, i in (("c", 1), ("d", 2), ("c", 3)))
    assert p[robert] == p[bob]
    assert p[susan] != p[robert]


def test_an_initial_and_a_middle_name_link_but_not_across_twins() -> None:
    base = ids()
    home = {"surname": "Quill", "postcode": "PL3 9XY", "address": "7 Mill Lane"}
    elsewhere = {"surname": "Amber", "postcode": "PL5 1QQ", "address": "2 Oak Road"}
    rows = [
        {**home, "forename": "Summer", "dob": date(2004, 5, 6)},
        {**home, "forename": "S", "dob": date(2004, 5, 6), "source": "d"},
        {**home, "forename": "Tilly", "dob": date(2004, 5, 6)},  # her twin
        {**home, "forename": "T", "dob": date(2004, 5, 6), "source": "d"},
        {**elsewhere, "forename": "Benjamin", "middle_names": "Harold", "dob": date(1971, 2, 3)},
        {**elsewhere, "forename": "Harold", "source": "e"},  # known by his middle name, no dob
    ]
    p = persons_of(rows)
    summer, s, tilly, t, benjamin, harold = (
        f"{src}:{base + i}"
        for src, i in (("a", 1), ("d", 2), ("a", 3), ("d", 4), ("a", 5), ("e", 6))
    )
    assert p[summer] == p[s]
    assert p[tilly] == p[t]
    assert p[tilly] != p[summer]
    assert p[benjamin] == p[harold]


def test_father_and_son_with_one_name_stay_apart_even_through_a_record_without_dob() -> None:
    base = ids()
    rows = [
        {
            "forename": "John",
            "surname": "Wren",
            "dob": date(1970, 3, 2),
            "postcode": "PL4 1AA",
            "address": "3 Oak St",
            "source": "c",
        },
        {
            "forename": "John",
            "surname": "Wren",
            "dob": date(1999, 8, 9),
            "postcode": "PL4 1AA",
            "address": "3 Oak St",
            "source": "d",
        },
        {
            "forename": "John",
            "surname": "Wren",
            "dob": None,
            "postcode": "PL4 1AA",
            "address": "3 Oak Street",
            "source": "e",
        },
    ]
    p = persons_of(rows)
    father, son, unknown = f"c:{base + 1}", f"d:{base + 2}", f"e:{base + 3}"
    assert p[father] != p[son]
    assert p[unknown] in (p[father], p[son])


def test_day_month_swap_and_name_swap_link() -> None:
    base = ids()
    rows = [
        {
            "forename": "Amelia",
            "surname": "Zorn",
            "dob": date(2003, 4, 9),
            "postcode": "PL5 2CD",
            "address": "9 Elm Way",
            "source": "c",
        },
        {
            "forename": "Amelia",
            "surname": "Zorn",
            "dob": date(2003, 9, 4),
            "postcode": "PL5 2CD",
            "address": "9 Elm Way",
            "source": "d",
        },
        {
            "forename": "Zorn",
            "surname": "Amelia",
            "dob": date(2003, 4, 9),
            "postcode": "PL5 2CD",
            "address": "9 Elm Way",
            "source": "e",
        },
    ]
    p = persons_of(rows)
    assert p[f"c:{base + 1}"] == p[f"d:{base + 2}"] == p[f"e:{base + 3}"]


def test_different_valid_ninos_are_never_one_person() -> None:
    base = ids()
    rows = [
        {
            "forename": "Kim",
            "surname": "Vale",
            "dob": date(1980, 1, 2),
            "postcode": "PL6 3EF",
            "address": "1 Bay Rd",
            "nino": "AB123456C",
            "source": "c",
        },
        {
            "forename": "Kim",
            "surname": "Vale",
            "dob": date(1980, 1, 2),
            "postcode": "PL6 3EF",
            "address": "1 Bay Rd",
            "nino": "CE654321A",
            "source": "c",
        },
    ]
    p = persons_of(rows)
    assert p[f"c:{base + 1}"] != p[f"c:{base + 2}"]


def test_unlinkable_records_are_kept_and_counted() -> None:
    std = people(background(40) + [{"forename": None, "surname": None, "dob": date(2000, 1, 1)}])
    result = link_records(std)
    assert result.persons.height == std.height
    assert result.stats["unlinkable"] == 1
    assert result.persons.filter(~pl.col("linkable"))["record_id"].to_list() == [f"a:{ids(40) + 1}"]


def test_blocking_rule_that_would_explode_is_refused_by_name() -> None:
    std = people(background(100))
    rules = (BlockingRule("everyone_in_district", ("pc_area",)),)
    with pytest.raises(
        ConfigError,
        match=r"blocking rule 'everyone_in_district' would create 11,175 candidate pairs",
    ):
        link_records(std, LinkConfig(rules=rules, max_pairs_per_rule=1000))


def test_a_rule_s_ceiling_grows_with_the_records() -> None:
    # 150 records: 1,000 pairs at least, 40 per record = 6,000; the district rule's 11,175 pairs
    # are refused at 40 per record and allowed at 80 (12,000)
    std = people(background(100))
    rules = (BlockingRule("everyone_in_district", ("pc_area",)),)
    with pytest.raises(ConfigError, match=r"over the limit of 6,000 \(40 per record"):
        link_records(std, LinkConfig(rules=rules, max_pairs_per_rule=1000))
    config = LinkConfig(rules=rules, max_pairs_per_rule=1000, max_pairs_per_record=80)
    assert link_records(std, config).stats["candidate_pairs"] == 11_175


def test_model_json_round_trip_gives_identical_links() -> None:
    std = people(background())
    first = link_records(std)
    model = FSModel.from_json(first.model.to_json())
    assert model.to_json() == first.model.to_json()
    again = link_records(std, model=model)
    assert again.persons.equals(first.persons)


def test_pairwise_scores_from_cluster_sizes() -> None:
    pred = pl.DataFrame({"record_id": list("abcde"), "predicted": [1, 1, 1, 2, 2]})
    true = pl.DataFrame({"record_id": list("abcde"), "actual": [1, 1, 2, 2, 2]})
    m = pairwise_scores(pred, true)
    assert (m["true_positive_pairs"], m["predicted_pairs"], m["true_pairs"]) == (2, 4, 4)
    assert m["precision"] == 0.5 and m["recall"] == 0.5


def test_quality_on_small_synthetic_council(small_council: tuple[Path, object]) -> None:
    from familymatch.pipeline import link_project
    from familymatch.project import load_project

    out, _ = small_council
    linked = link_project(load_project(out / "familymatch.toml"))
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    scores = evaluate_links(linked.membership, truth)
    assert scores["persons"]["f1"] >= 0.98
    assert scores["households"]["f1"] >= 0.97


def test_household_guards_keep_a_replaced_forename_apart_unless_switched_off() -> None:
    base = ids()
    rows = [
        {
            "forename": "Zachary",
            "surname": "Whyte",
            "dob": date(1962, 9, 24),
            "postcode": "PL3 1AB",
            "address": "324 Kirk Road",
            "source": "c",
        },
        {
            "forename": "Roisin",
            "surname": "Whyte",
            "dob": date(1962, 9, 24),
            "postcode": "PL3 1AB",
            "address": "324 Kirk Road",
            "source": "d",
        },
    ]
    a, b = f"c:{base + 1}", f"d:{base + 2}"
    with_guards = persons_of([dict(r) for r in rows])
    assert with_guards[a] != with_guards[b]  # the twins pattern: kept apart in household data
    std = people(background() + [dict(r) for r in rows])
    off = dict(
        link_records(std, LinkConfig(household_guards=False))
        .persons.select("record_id", "person_id")
        .iter_rows()
    )
    assert off[a] == off[b]


def test_the_periods_of_one_wide_row_are_one_person_by_the_same_row_stage() -> None:
    def rec(rid: str, fn: str, sn: str, role: str | None = None) -> dict[str, object]:
        source, row = rid.removeprefix("build|").split(":")[:2]
        return {
            "record_id": rid,
            "source": source,
            "kind": "school_census",
            "row": int(row),
            "role": role,
            "forename": fn,
            "surname": sn,
            "dob": date(2001, 2, 3),
        }

    bg = [
        {**r, "record_id": f"bg:{i}", "source": "bg", "kind": "population", "row": i}
        for i, r in enumerate(background(), start=1)
    ]
    odd = [
        rec("w:7:aut", "QUENTIN", "ZABROWSKI"),  # one row, two periods: one person
        rec("w:7:spr", "XAVIER", "YELLAND"),
        rec("build|w:7:sum", "URSULA", "VIPOND"),  # the same row of another file: not
        rec("c:3:claimant:aut", "OLIVE", "PETTIGREW", "claimant"),
        rec("c:3:claimant:spr", "NIGEL", "MORCOMBE", "claimant"),
        rec("c:3:partner:aut", "KEITH", "LAMPARD", "partner"),  # another person slot: not
    ]
    records = conform(pl.DataFrame(bg + odd, infer_schema_length=None))
    result = link_records(standardise(records))
    pid = dict(result.persons.select("record_id", "person_id").iter_rows())
    assert pid["w:7:aut"] == pid["w:7:spr"] != pid["build|w:7:sum"]
    assert pid["c:3:claimant:aut"] == pid["c:3:claimant:spr"] != pid["c:3:partner:aut"]
    same_row = result.pairs.filter(pl.col("stage") == "same_row")
    assert sorted(same_row.select("record_id_l", "record_id_r").rows()) == [
        ("c:3:claimant:spr", "c:3:claimant:aut"),
        ("w:7:spr", "w:7:aut"),
    ]
    assert result.stats["identifier_links"] == 2
    why = explain_pair(result.model, records, result.persons, result.pairs, "w:7:aut", "w:7:spr")
    assert why["pair_decision"] == "linked: one source row and person slot (periods of a wide row)"
    assert why["same_person"] is True
