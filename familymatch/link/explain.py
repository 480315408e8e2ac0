"""Explain a linkage decision: for two records, each field's comparison level and match weight,
the total and probability, how the pair was decided, and whether they ended in one person."""

from __future__ import annotations

from typing import Any

import polars as pl

from familymatch.errors import FamilyMatchError
from familymatch.link.compare import FIELDS, comparison_levels, pair_frame
from familymatch.link.model import TF_FIELDS, FSModel, attach_term_frequencies, with_location_key
from familymatch.standardise import standardise

LEVEL_NAMES = {
    "fn": [
        "different",
        "partly: JW >= 0.80, an initial, the middle name or one slip (or swapped)",
        "JW >= 0.92 (or swapped)",
        "same after nicknames / swapped",
        "same",
    ],
    "sn": [
        "different",
        "JW >= 0.80 (or swapped)",
        "JW >= 0.92 (or swapped)",
        "one contains the other / swapped",
        "same",
    ],
    "dob": [
        "different",
        "a keying slip (one digit, adjacent digits, year off by one)",
        "same year and month or day",
        "day/month transposed",
        "same",
    ],
    "loc": [
        "different",
        "same district",
        "same sector or same street",
        "same (or no) number, similar address",
        "same postcode",
        "same address (the address stage's entity, else postcode and number)",
    ],
    "sex": ["different", "same"],
    "mn": ["different", "same initial", "same"],
}


def explain_pair(
    model: FSModel,
    records: pl.DataFrame,
    persons: pl.DataFrame,
    pairs: pl.DataFrame,
    record_a: str,
    record_b: str,
    run_label: str = "this run",
    places: pl.DataFrame | None = None,
) -> dict[str, Any]:
    """A JSON-able explanation (no personal data: levels, weights and the frequencies that
    adjusted them). ``places``: record_id -> address_id, the address stage's entities."""
    both = records.filter(pl.col("record_id").is_in([record_a, record_b]))
    for rid in (record_a, record_b):
        if rid not in both["record_id"].to_list():
            raise FamilyMatchError(
                f"record {rid} is not in {run_label} (record ids are source:row, or "
                "source:row:role for sources with several people a row)."
            )
    std = standardise(both).with_row_index("__i")
    if places is not None:
        std = std.join(places.select("record_id", "address_id"), on="record_id", how="left")
    std = attach_term_frequencies(with_location_key(std), model.tf, model.tf_floor)
    idx = dict(zip(std["record_id"].to_list(), std["__i"].to_list(), strict=True))
    pf = pair_frame(
        std,
        pl.DataFrame({"i": [idx[record_a]], "j": [idx[record_b]], "rule": [-1]}).with_columns(
            pl.col("i").cast(pl.UInt32), pl.col("j").cast(pl.UInt32)
        ),
    )
    scored = model.score(comparison_levels(pf)).row(0, named=True)
    fields = {}
    for f in FIELDS:
        level = scored[f]
        fields[f] = {
            "level": level,
            "meaning": "missing on one side" if level < 0 else LEVEL_NAMES[f][level],
            "match_weight": round(scored[f"w_{f}"], 3),
        }
        tf = scored.get(TF_FIELDS[f][0]) if f in TF_FIELDS else None
        # only where the frequency moved the weight (a place no more crowded than the level's
        # average scores as the level does)
        if (
            tf is not None
            and level == TF_FIELDS[f][1]
            and model.tf.get(f)
            and tf > model.floor_of(f)
        ):
            # the share of people with the value (at the place) that the weight stands on
            fields[f]["term_frequency"] = float(f"{tf:.3g}")
    stored = pairs.filter(
        ((pl.col("record_id_l") == record_a) & (pl.col("record_id_r") == record_b))
        | ((pl.col("record_id_l") == record_b) & (pl.col("record_id_r") == record_a))
    )
    pid = dict(persons.select("record_id", "person_id").iter_rows())
    decision = (
        "not linked: a clear non-match, or never compared (no blocking rule brought them together)"
    )
    if stored.height:
        decisions = []
        for r in stored.iter_rows(named=True):
            if r["stage"] in ("nino", "upn"):
                decisions.append(f"linked by identical {r['stage'].upper()}")
            elif r["stage"] == "same_row":
                decisions.append("linked: one source row and person slot (periods of a wide row)")
            elif r["stage"] == "fs":
                decisions.append(
                    "linked (probability at or above threshold)"
                    if r["linked"]
                    else "below threshold"
                )
            else:
                decisions.append(f"kept apart by {r['stage']}")
        decision = "; ".join(decisions)
    return {
        "records": [record_a, record_b],
        "fields": fields,
        "prior_weight": round(scored["match_weight"] - sum(scored[f"w_{f}"] for f in FIELDS), 3),
        "match_weight": round(scored["match_weight"], 3),
        "match_probability": round(scored["match_probability"], 6),
        "pair_decision": decision,
        "same_person": pid.get(record_a) == pid.get(record_b),
        "persons": [pid.get(record_a), pid.get(record_b)],
    }


def explain_household(
    household_id: str,
    membership: pl.DataFrame,
    household_links: pl.DataFrame,
    pairs: pl.DataFrame,
    addresses: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Which people, addresses and claims made a household, and the record links inside each
    person (stage and weight); ``addresses``: the household's address entities with their
    variants and why they were joined (``familymatch.addresses.explain``)."""
    members = membership.filter(pl.col("household_id") == household_id)
    if members.height == 0:
        raise FamilyMatchError(f"household {household_id} is not in this run.")
    reasons = household_links.filter(pl.col("household_id") == household_id)
    people = []
    for person_id, recs in (
        members.group_by("person_id").agg(pl.col("record_id").sort()).sort("person_id").iter_rows()
    ):
        inside = pairs.filter(
            pl.col("record_id_l").is_in(recs) & pl.col("record_id_r").is_in(recs) & pl.col("linked")
        ).sort("record_id_l", "record_id_r")
        people.append(
            {
                "person_id": person_id,
                "records": recs,
                "joined_household_by": reasons.filter(pl.col("person_id") == person_id)["reason"]
                .sort()
                .to_list(),
                "record_links": [
                    {
                        "records": [a, b],
                        "stage": st,
                        "match_weight": None if w is None else round(w, 3),
                    }
                    for a, b, st, w in inside.select(
                        "record_id_l", "record_id_r", "stage", "match_weight"
                    ).iter_rows()
                ],
            }
        )
    apart = reasons.filter(pl.col("reason").str.starts_with("apart:"))
    return {
        "household_id": household_id,
        "members": people,
        "addresses": addresses or [],
        "parents_living_apart": [
            {"person_id": p, "reason": r.removeprefix("apart:")}
            for p, r in apart.select("person_id", "reason").sort("person_id").iter_rows()
        ],
    }


def explain_pair_in_run(store: Any, run_id: int, record_a: str, record_b: str) -> dict[str, Any]:
    """:func:`explain_pair` on a recorded build, with the threshold the build linked at."""
    from familymatch.link import LinkConfig
    from familymatch.store import read_table
    from familymatch.store import schema as s

    model = FSModel.from_json(read_table(store, s.link_models, run_id)["model_json"][0])
    doc = explain_pair(
        model,
        read_table(store, s.records, run_id),
        read_table(store, s.persons, run_id),
        read_table(store, s.link_pairs, run_id),
        record_a,
        record_b,
        f"run {run_id}",
        read_table(store, s.record_addresses, run_id),
    )
    return {**doc, "threshold": LinkConfig().threshold}


def explain_family(store: Any, family: Any) -> dict[str, Any]:
    """:func:`explain_household` on a recorded build's family (a ``FamilyId``), reference
    first, with the household's address."""
    from familymatch.addresses.explain import household_addresses
    from familymatch.store import read_table
    from familymatch.store import schema as s

    run_id, household = family.run_id, family.household_id
    members = read_table(store, s.membership, run_id, household_id=household)
    doc = explain_household(
        household,
        members,
        read_table(store, s.household_links, run_id, household_id=household),
        read_table(store, s.link_pairs, run_id),
        household_addresses(store, run_id, members),
    )
    home = read_table(store, s.households, run_id, household_id=household)
    address = None
    if home.height and home["address"][0]:
        address = ", ".join(v for v in (home["address"][0], home["postcode"][0]) if v)
    return {"family_ref": family.family_ref, **doc, "address": address}
