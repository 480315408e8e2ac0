"""Standardisers: exact outputs on hard cases, and properties (idempotent, never raise)."""

from __future__ import annotations

from datetime import date

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from familymatch.canonical import conform
from familymatch.identifiers import is_valid_nino, is_valid_upn, upn_check_letter
from familymatch.standardise import (
    clean_address,
    clean_name,
    normalise_postcode,
    per_value,
    standardise,
)


def std(**cols: list[object]) -> pl.DataFrame:
    n = len(next(iter(cols.values())))
    base = {
        "record_id": [f"s:{i}" for i in range(n)],
        "source": ["s"] * n,
        "kind": ["population"] * n,
        "row": list(range(1, n + 1)),
    }
    return standardise(conform(pl.DataFrame({**base, **cols})))


def test_names_accents_hyphens_nicknames_and_phonetics() -> None:
    out = std(
        forename=["Zoë", "bob", "  Mary-Ann ", "!!!", "Liz"],
        surname=["O'Neil", "Smith-Jones", "van der Berg-Hall", "...", "Taylor"],
        middle_names=[None, "James", None, None, None],
    )
    assert out["fn"].to_list() == ["ZOE", "BOB", "MARYANN", None, "LIZ"]
    assert out["fn_canon"].to_list() == ["ZOE", "ROBERT", "MARYANN", None, "ELIZABETH"]
    assert out["sn"].to_list() == ["ONEIL", "SMITHJONES", "VANDERBERGHALL", None, "TAYLOR"]
    assert out["sn_parts"].to_list()[1:3] == [["SMITH", "JONES"], ["VAN", "DER", "BERG", "HALL"]]
    assert out["mn"].to_list()[1] == "JAMES"
    assert out["fn_phon"][1] == out["fn_phon"].to_list()[1] and out["sn_phon"][4] == "TLR"


def test_postcodes_sex_dob_and_addresses() -> None:
    out = std(
        postcode=["pl12ab", " PL1  2AB", "PL1 2A", None],
        sex=["m", "2", "Girl", "U"],
        dob=[date(2001, 3, 4), date(2001, 3, 3), date(2001, 3, 13), None],
        address=["Flt 3, Drake House, 12 Hoe Rd PL1 2AB", "12a Union St.", "St Andrews Cl", None],
    )
    assert out["pc"].to_list() == ["PL1 2AB", "PL1 2AB", "PL 12A", None]
    assert out["pc_valid"].to_list() == [True, True, False, False]
    assert out["pc_sector"].to_list() == ["PL1 2", "PL1 2", None, None]
    assert out["pc_district"].to_list()[0] == "PL1" and out["pc_area"][0] == "PL"
    assert out["sex"].to_list() == ["M", "F", "F", None]
    assert out["dob_swappable"].to_list() == [True, False, False, None]
    assert out["addr"].to_list()[0] == "FLAT 3 DRAKE HOUSE 12 HOE ROAD"
    assert out["addr_num"].to_list() == ["FLAT 3 12", "12A", None, None]
    assert out["id_problems"].to_list() == [None, None, "postcode_invalid", None]


def test_nino_and_upn_checks() -> None:
    body = "879200112003"
    good_upn = upn_check_letter(body) + body
    bad_letter = ("A" if good_upn[0] != "A" else "B") + body
    out = std(nino=["ab 12 34 56 c", "TN123456A", "QQ123456C"], upn=[good_upn, bad_letter, None])
    assert out["nino_std"].to_list() == ["AB123456C", None, None]
    assert out["upn_std"].to_list() == [good_upn, None, None]
    assert out["id_problems"].to_list() == [None, "nino_invalid,upn_invalid", "nino_invalid"]
    assert is_valid_upn(good_upn) and not is_valid_upn(bad_letter)
    assert is_valid_nino("AB123456C") and not is_valid_nino("GB123456A")


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=40), min_size=1, max_size=20))
def test_name_cleaning_never_raises_and_is_idempotent(values: list[str]) -> None:
    s = pl.DataFrame({"x": values})
    once = s.select(clean_name(pl.col("x")).alias("x"))
    twice = once.select(clean_name(pl.col("x")).alias("x"))
    assert once.equals(twice)


POSTCODE = st.from_regex(r"\A[A-Z]{1,2}[0-9][0-9]? [0-9][A-Z]{2}\Z", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(POSTCODE, st.lists(st.booleans(), min_size=8, max_size=8), st.integers(0, 3))
def test_postcode_round_trip(pc: str, lower: list[bool], spaces: int) -> None:
    messy = "".join(
        c.lower() if lo else c
        for c, lo in zip(pc.replace(" ", " " * spaces), lower * 2, strict=False)
    )
    out = pl.DataFrame({"x": [messy]}).select(normalise_postcode(pl.col("x")).alias("x"))
    assert out["x"][0] == pc
    again = out.select(normalise_postcode(pl.col("x")).alias("x"))
    assert again["x"][0] == pc


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=30), min_size=1, max_size=10))
def test_standardise_never_raises_on_any_text(values: list[str]) -> None:
    n = len(values)
    out = std(
        forename=values,
        surname=values,
        postcode=values,
        address=values,
        nino=values,
        upn=values,
        sex=values,
    )
    again = standardise(out.select(list(conform(pl.DataFrame()).columns)))
    for col in ("fn", "sn", "pc", "addr", "nino_std", "upn_std", "sex"):
        assert out[col].to_list() == again[col].to_list()
    assert out.height == n


NINO = st.from_regex(
    r"\A[A-CEGHJ-PR-TW-Y][A-CEGHJ-NPR-TW-Y][0-9]{6}[A-D]\Z", fullmatch=True
).filter(lambda n: n[:2] not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


@settings(max_examples=200, deadline=None)
@given(NINO, st.sampled_from(["", " ", "  "]), st.booleans())
def test_nino_round_trip(nino: str, sep: str, lower: bool) -> None:
    from familymatch.identifiers import nino_expr

    messy = sep.join([nino[:2], nino[2:4], nino[4:6], nino[6:8], nino[8]])
    messy = messy.lower() if lower else messy
    out = pl.DataFrame({"x": [messy]}).select(nino_expr(pl.col("x")).alias("x"))
    assert out["x"][0] == nino
    assert pl.DataFrame({"x": [nino]}).select(nino_expr(pl.col("x")).alias("x"))["x"][0] == nino


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.one_of(st.none(), st.sampled_from(["12 Mill Rd", "flat 3, 4 Drake Ho"])), max_size=12
    )
)
def test_per_value_equals_the_expression_row_by_row(values: list[str | None]) -> None:
    frame = pl.DataFrame({"address": values}, schema={"address": pl.String})
    by_value = frame.select(per_value("address", clean_address, pl.String())).to_series()
    by_row = frame.select(clean_address(pl.col("address"))).to_series()
    assert by_value.to_list() == by_row.to_list()
