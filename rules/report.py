"""The cohort profile (the 2012 Plymouth board report's appendix I) from a recorded build.

Households meeting three and two criteria, the two-criteria combinations with percentages,
the cross-reference with local discretionary cohorts (how many of each list are already in the
cohort), localities / neighbourhoods / LSOAs from the coordinator's postcode lookup, the schools
the cohort's children attend, and the ages of the children. As data (``profile``) and as an
XLSX workbook with a chart (``write_profile_workbook``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import cast

import polars as pl
from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.worksheet.worksheet import Worksheet

from familymatch.errors import InputFileError
from familymatch.people import age_in_years, modal_dob
from familymatch.standardise import normalise_postcode
from familymatch.workbooks import save_workbook, write_table


@dataclass
class Profile:
    run_id: int
    reference_date: date
    by_count: pl.DataFrame  # n_criteria, households
    combinations: pl.DataFrame  # combination, households, share_of_two
    cross_reference: pl.DataFrame  # cohort_list, households_on_list, in_cohort, share
    areas: pl.DataFrame  # locality, neighbourhood, lsoa, households
    schools: pl.DataFrame  # school, children
    ages: pl.DataFrame  # age_group, households


def load_lookup(path: Path | None) -> pl.DataFrame | None:
    if path is None:
        return None
    if not path.is_file():
        raise InputFileError(f"postcode lookup {path}: the file does not exist.")
    lookup = pl.read_csv(path, infer_schema=False)
    need = {"postcode", "lsoa", "neighbourhood", "locality"}
    missing = sorted(need - set(lookup.columns))
    if missing:
        raise InputFileError(f"postcode lookup {path.name}: column '{missing[0]}' is missing.")
    return lookup.with_columns(normalise_postcode(pl.col("postcode")).alias("postcode"))


def profile(
    run_id: int,
    reference_date: date,
    cohort: pl.DataFrame,
    membership: pl.DataFrame,
    records: pl.DataFrame,
    households: pl.DataFrame,
    lookup: pl.DataFrame | None,
) -> Profile:
    """Compute the profile tables of one build."""
    inc = cohort.filter(pl.col("in_cohort"))
    by_count = (
        inc.group_by("n_criteria")
        .len()
        .sort("n_criteria", descending=True)
        .rename({"len": "households"})
    )
    two = inc.filter(pl.col("n_criteria") == 2)
    combos = (
        inc.group_by("n_criteria", "combination")
        .len()
        .rename({"len": "households"})
        .sort(["n_criteria", "households", "combination"], descending=[True, True, False])
        .with_columns(
            pl.when(pl.col("n_criteria") == 2)
            .then((pl.col("households") * 100 / max(two.height, 1)).round(1))
            .alias("share_of_two_pct")
        )
        .drop("n_criteria")
    )
    members = membership.join(
        records.select("record_id", "kind", "event_type", "dob", "school"), on="record_id"
    )
    in_cohort = inc.select("household_id")
    lists = (
        members.filter(pl.col("kind") == "discretionary")
        .select("household_id", pl.col("event_type").alias("cohort_list"))
        .drop_nulls("cohort_list")
        .unique()
    )
    cross = (
        lists.with_columns(
            pl.col("household_id").is_in(in_cohort["household_id"].implode()).alias("in")
        )
        .group_by("cohort_list")
        .agg(pl.len().alias("households_on_list"), pl.col("in").sum().alias("in_cohort"))
        .with_columns(
            (pl.col("in_cohort") * 100 / pl.col("households_on_list"))
            .round(1)
            .alias("share_in_cohort_pct")
        )
        .sort("cohort_list")
    )
    hh = households.join(in_cohort, on="household_id").with_columns(
        normalise_postcode(pl.col("postcode")).alias("pc")
    )
    if lookup is not None:
        areas = (
            hh.join(lookup, left_on="pc", right_on="postcode", how="left")
            .with_columns(pl.col("locality", "neighbourhood", "lsoa").fill_null("not in lookup"))
            .group_by("locality", "neighbourhood", "lsoa")
            .len()
            .rename({"len": "households"})
            .sort(["locality", "neighbourhood", "households"], descending=[False, False, True])
        )
    else:
        areas = pl.DataFrame(
            schema={
                "locality": pl.String,
                "neighbourhood": pl.String,
                "lsoa": pl.String,
                "households": pl.UInt32,
            }
        )
    cohort_members = members.join(in_cohort, on="household_id")
    dob = modal_dob(cohort_members, ("household_id", "person_id")).with_columns(
        age_in_years(pl.col("dob"), reference_date).alias("age")
    )
    children = dob.filter(pl.col("age") < 18)
    ages = (
        children.group_by("household_id")
        .agg(
            (pl.col("age") <= 4).any().alias("early"),
            pl.col("age").is_between(5, 10).any().alias("primary"),
            pl.col("age").is_between(11, 15).any().alias("secondary"),
        )
        .select(
            pl.when(pl.col("early"))
            .then(pl.lit("with early years (0-4)"))
            .when(pl.col("secondary") & pl.col("primary"))
            .then(pl.lit("secondary and primary"))
            .when(pl.col("secondary"))
            .then(pl.lit("secondary only"))
            .when(pl.col("primary"))
            .then(pl.lit("primary only"))
            .otherwise(pl.lit("16-17 only"))
            .alias("age_group")
        )
        .group_by("age_group")
        .len()
        .rename({"len": "households"})
        .sort("households", descending=True)
    )
    schools = (
        cohort_members.filter(pl.col("school").is_not_null())
        .select("person_id", "school")
        .unique()
        .group_by("school")
        .len()
        .rename({"len": "children"})
        .sort(["children", "school"], descending=[True, False])
        .head(10)
    )
    return Profile(run_id, reference_date, by_count, combos, cross, areas, schools, ages)


def write_profile_workbook(p: Profile, path: Path, title: str) -> Path:
    wb = Workbook()
    ws = cast(Worksheet, wb.active)
    ws.title = "Summary"
    ws["A1"] = f"{title}: cohort profile, run {p.run_id}, data as at {p.reference_date.isoformat()}"
    last = write_table(
        ws, ["criteria met", "households"], p.by_count.rows(), start_row=3, filters=False
    )
    start = last + 2
    last = write_table(
        ws,
        ["combination", "households", "% of two-criteria households"],
        p.combinations.rows(),
        start_row=start,
        filters=False,
    )
    chart = BarChart()
    chart.type = "bar"
    chart.title = "Households by combination of criteria"
    chart.y_axis.title = "households"
    chart.add_data(Reference(ws, min_col=2, min_row=start, max_row=last), titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=start + 1, max_row=last))
    chart.height, chart.width = 8, 18
    ws.add_chart(chart, "E3")
    for name, frame, header in (
        (
            "Cross-reference",
            p.cross_reference,
            ["local list", "households on list", "in cohort", "% in cohort"],
        ),
        ("Areas", p.areas, ["locality", "neighbourhood", "LSOA", "households"]),
        ("Schools", p.schools, ["school", "cohort children"]),
        ("Ages", p.ages, ["children in the household", "households"]),
    ):
        sheet = wb.create_sheet(name)
        write_table(sheet, header, frame.rows())
    return save_workbook(wb, path)
