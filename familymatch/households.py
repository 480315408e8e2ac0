"""Households at the reference date, built explicitly from address entities and claims.

1. Every record's address is its address entity (``address_id`` from the address stage,
   ``familymatch/addresses``: variants of one address written by different systems are one
   entity; a record that names no one address has none).
2. Every person's address at the reference date is the entity with the latest evidence on or
   before it (event or claim start, end date, school term), then the most records; earlier
   entities are their address history.
3. People sharing an address at the reference date are one household: children join the adults
   they live with by address alone when no source lists them as dependants.
4. Benefit-claim groups (claimant, partner, dependants sharing a claim reference) join a person
   whose only household is their own (a parent still at the old address on a claim, a dependant
   with no address) to the group's main household, so a family that moved is one household. A
   person who lives with others elsewhere stays where they live: a child living with a
   grandparent is in the grandparent's household, whatever the parent's claim says.
5. A parent living apart: an adult on a claim group whose children (under 18) live in another
   household is that household's parent living apart (``apart_parents``; the rule set decides
   what they may contribute).

Household ids are ``H`` + a short hash of the household's smallest record id: deterministic
for the same input; the store re-maps them to stable family references across runs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from familymatch.link.cluster import components
from familymatch.people import age_in_years, modal_dob, most_common

TERM_ENDS = {"autumn": (12, 20), "spring": (4, 1), "summer": (7, 20)}


@dataclass
class HouseholdResult:
    membership: pl.DataFrame  # record_id, person_id, household_id
    households: pl.DataFrame  # household_id, address, postcode, n_members, n_adults, n_children
    household_links: pl.DataFrame  # household_id, person_id, reason
    addresses: pl.DataFrame  # person_id, address_key, evidence_date, records, current
    # household_id (the children's), person_id (the parent), reason
    apart_parents: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(
            schema={"household_id": pl.String, "person_id": pl.String, "reason": pl.String}
        )
    )


def term_end(term: pl.Expr) -> pl.Expr:
    """'2011/12-spring' -> 2012-04-01 (the approximate end of the term)."""
    start_year = term.str.extract(r"^(\d{4})/", 1).cast(pl.Int32)
    season = term.str.extract(r"-(autumn|spring|summer)$", 1)
    year = pl.when(season == "autumn").then(start_year).otherwise(start_year + 1)
    month = season.replace_strict({k: v[0] for k, v in TERM_ENDS.items()}, default=None)
    day = season.replace_strict({k: v[1] for k, v in TERM_ENDS.items()}, default=None)
    return pl.date(year, month.cast(pl.Int8), day.cast(pl.Int8))


def _household_id(first_record: pl.Expr) -> pl.Expr:
    return first_record.map_batches(
        lambda s: pl.Series(
            [
                "H" + hashlib.sha256(v.encode()).hexdigest()[:10].upper()
                for v in s.cast(pl.String).to_list()
            ],
            dtype=pl.String,
        ),
        return_dtype=pl.String,
    )


def _components(edges: pl.DataFrame, nodes: pl.Series) -> pl.DataFrame:
    """unit, component (the smallest unit of its component) for every unit of ``nodes`` (sorted,
    distinct) over the edges (a, b): numbered, not a Python dictionary of every unit."""
    index = pl.DataFrame({"unit": nodes}).with_row_index("k")
    ends = edges.join(index.rename({"unit": "a", "k": "ka"}), on="a").join(
        index.rename({"unit": "b", "k": "kb"}), on="b"
    )
    label = components(len(nodes), ends["ka"].to_numpy(), ends["kb"].to_numpy())
    return pl.DataFrame({"unit": nodes, "component": nodes.gather(label)})


def _texts(raw: pl.LazyFrame) -> pl.LazyFrame:
    """address_key, address, postcode: each address entity's most common text and, among its
    records with a text, most common postcode (mode's order is not fixed, so a plain first()
    made the same build give different addresses)."""
    written = raw.drop_nulls(["address_key", "address"])
    return most_common(written, ("address_key",), "address").join(
        most_common(written, ("address_key",), "postcode"), on="address_key", how="left"
    )


def _follow_claim_groups(by_address: pl.DataFrame, groups: pl.DataFrame) -> pl.DataFrame:
    """by_address (person_id, address_key, unit, unit_size) with ``component``: step 4, a
    unit made only of a claim group's members (or a person alone) joined to the group's main
    unit (its intermediates go when it returns)."""
    # the group's main unit: the one holding most of its members, then the most recent evidence
    main_unit = (
        groups.filter(~pl.col("unit").str.starts_with("alone|"))
        .group_by("group_ref", "unit")
        .agg(pl.len().alias("n"), pl.col("evidence_date").max().alias("latest"))
        .sort(
            ["group_ref", "n", "latest", "unit"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
        .group_by("group_ref", maintain_order=True)
        .first()
        .select("group_ref", pl.col("unit").alias("main_unit"))
    )
    group_units = groups.select("group_ref", "unit").unique()
    # a unit made only of this group's members (or a person alone) follows the group
    unit_members = by_address.select("person_id", "unit")
    outsiders = (
        unit_members.join(groups.select("group_ref", "person_id"), on="person_id", how="left")
        .group_by("unit")
        .agg(
            pl.col("group_ref").drop_nulls().unique().alias("groups"),
            pl.col("group_ref").null_count().alias("not_in_group"),
        )
    )
    movable = (
        group_units.join(outsiders, on="unit")
        .filter((pl.col("not_in_group") == 0) & (pl.col("groups").list.len() == 1))
        .join(main_unit, on="group_ref")
        .filter(pl.col("unit") != pl.col("main_unit"))
    )
    # a group with no member at a shared address still forms one household
    lonely = group_units.join(main_unit, on="group_ref", how="anti")
    first_unit = lonely.group_by("group_ref").agg(pl.col("unit").min().alias("u0"))
    edges = pl.concat(
        [
            movable.select(pl.col("unit").alias("a"), pl.col("main_unit").alias("b")),
            lonely.join(first_unit, on="group_ref").select(
                pl.col("unit").alias("a"), pl.col("u0").alias("b")
            ),
        ]
    )
    unit_comp = _components(edges, by_address["unit"].unique().sort())
    return by_address.join(unit_comp, on="unit")


def _numbered(
    persons: pl.DataFrame, person_household: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """membership (record_id, person_id, component, household_id) and person_household with
    household_id: each component named by its smallest record id."""
    membership_p = persons.select("record_id", "person_id").join(
        person_household.select("person_id", "component"), on="person_id"
    )
    first_rec = membership_p.group_by("component").agg(pl.col("record_id").min().alias("first"))
    first_rec = first_rec.with_columns(_household_id(pl.col("first")).alias("household_id"))
    membership = membership_p.join(first_rec.select("component", "household_id"), on="component")
    person_hh = person_household.join(first_rec.select("component", "household_id"), on="component")
    return membership, person_hh


def build_households(
    std: pl.DataFrame, persons: pl.DataFrame, reference_date: date
) -> HouseholdResult:
    """Group persons into households at ``reference_date``."""
    recs = std.select(
        "record_id",
        "kind",
        "group_ref",
        "relationship",
        "dob",
        pl.coalesce(
            pl.when(pl.col("end_date") <= reference_date).then(pl.col("end_date")),
            pl.when(pl.col("event_date") <= reference_date).then(pl.col("event_date")),
            pl.when(term_end(pl.col("term")) <= reference_date).then(term_end(pl.col("term"))),
            pl.when(pl.col("term").is_not_null()).then(pl.lit(reference_date)),
        ).alias("evidence_date"),
        pl.col("address_id").alias("address_key"),
    ).join(persons.select("record_id", "person_id"), on="record_id")

    history = (
        recs.drop_nulls("address_key")
        .group_by("person_id", "address_key")
        .agg(
            pl.col("evidence_date").max().alias("evidence_date"),
            pl.len().alias("records"),
        )
        .sort(
            ["person_id", "evidence_date", "records", "address_key"],
            descending=[False, True, True, False],
            nulls_last=True,
        )
    )
    current = history.group_by("person_id", maintain_order=True).first()
    history = (
        history.join(
            current.select("person_id", pl.col("address_key").alias("cur")), on="person_id"
        )
        .with_columns((pl.col("address_key") == pl.col("cur")).alias("current"))
        .drop("cur")
    )

    all_persons = persons.select("person_id").unique().sort("person_id")
    person_addr = all_persons.join(
        current.select("person_id", "address_key"), on="person_id", how="left"
    )
    # step 3: co-residence
    by_address = person_addr.with_columns(
        pl.coalesce(pl.col("address_key"), pl.format("alone|{}", pl.col("person_id"))).alias("unit")
    )
    unit_size = by_address.group_by("unit").len().rename({"len": "unit_size"})
    by_address = by_address.join(unit_size, on="unit")

    # step 4: claim groups
    groups = (
        recs.filter(pl.col("group_ref").is_not_null())
        .select("group_ref", "person_id")
        .unique(["group_ref", "person_id"])
        .join(by_address.select("person_id", "unit", "unit_size"), on="person_id")
        .join(current.select("person_id", "evidence_date"), on="person_id", how="left")
    )
    person_household = _follow_claim_groups(by_address, groups)
    del by_address
    membership, person_hh = _numbered(persons, person_household)
    del person_household

    ages = modal_dob(recs).select(
        "person_id", age_in_years(pl.col("dob"), reference_date).alias("age")
    )
    del recs  # each intermediate goes once read: at county scale a copy is ~100 B a record
    # the texts of the records with a person (a semi join copies only std's three columns)
    raw_addr = (
        std.lazy()
        .select("record_id", pl.col("address_id").alias("address_key"), "address", "postcode")
        .join(persons.lazy().select("record_id"), on="record_id", how="semi")
    )
    hh_addr = (
        person_hh.lazy()
        .select("person_id", "household_id", "address_key")
        .drop_nulls("address_key")
        .group_by("household_id", "address_key")
        .len()
        .sort(["household_id", "len", "address_key"], descending=[False, True, False])
        .group_by("household_id", maintain_order=True)
        .first()
        .join(_texts(raw_addr), on="address_key", how="left")
        .select("household_id", "address_key", "address", "postcode")
        .collect()
    )
    households = (
        person_hh.join(ages, on="person_id", how="left")
        .group_by("household_id")
        .agg(
            pl.len().alias("n_members"),
            (pl.col("age") >= 18).sum().alias("n_adults"),
            (pl.col("age") < 18).sum().alias("n_children"),
        )
        .join(hh_addr, on="household_id", how="left")
        .sort("household_id")
    )
    # step 5: parents living apart: adults of a claim group whose children live elsewhere
    in_group = (
        groups.select("group_ref", "person_id")
        .join(person_hh.select("person_id", "household_id"), on="person_id")
        .join(ages, on="person_id", how="left")
    )
    children_home = (
        in_group.filter(pl.col("age") < 18)
        .select("group_ref", pl.col("household_id").alias("children_household"))
        .unique()
    )
    apart = (
        in_group.filter(pl.col("age") >= 18)
        .join(children_home, on="group_ref")
        .filter(pl.col("household_id") != pl.col("children_household"))
        .select(
            pl.col("children_household").alias("household_id"),
            "person_id",
            pl.format("parent living apart (claim {})", pl.col("group_ref")).alias("reason"),
        )
        .unique(["household_id", "person_id"], keep="first")
        .sort("household_id", "person_id")
    )
    # one lazy query: the three kinds of link are not held whole before they are made unique
    links = (
        pl.concat(
            [
                person_hh.lazy()
                .filter(pl.col("address_key").is_not_null())
                .select(
                    "household_id",
                    "person_id",
                    pl.format("address:{}", pl.col("address_key")).alias("reason"),
                ),
                groups.lazy()
                .join(person_hh.lazy().select("person_id", "household_id"), on="person_id")
                .select(
                    "household_id",
                    "person_id",
                    pl.format("claim:{}", pl.col("group_ref")).alias("reason"),
                ),
                apart.lazy().select(
                    "household_id",
                    "person_id",
                    pl.format("apart:{}", pl.col("reason")).alias("reason"),
                ),
            ]
        )
        .unique()
        .sort("household_id", "person_id", "reason")
        .collect()
    )
    return HouseholdResult(
        membership=membership.select("record_id", "person_id", "household_id").sort("record_id"),
        households=households,
        household_links=links,
        addresses=history,
        apart_parents=apart,
    )


def household_pairs_f1(membership: pl.DataFrame, truth: pl.DataFrame) -> dict[str, float]:
    """Pairwise precision/recall/F1 of record pairs sharing a household (truth: record_id,
    household_id)."""
    from familymatch.link.evaluate import pairwise_scores

    return pairwise_scores(
        membership.select("record_id", pl.col("household_id").alias("predicted")),
        truth.select("record_id", pl.col("household_id").alias("actual")),
    )
