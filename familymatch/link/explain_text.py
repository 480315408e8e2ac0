"""`link explain` for a person: a pair as a waterfall of comparison levels whose match weights
add up to the total, with the decision and the threshold; a household as its members, address,
what joined each person to it and the record links inside each person, with their stages.
The inputs are the documents of :mod:`familymatch.link.explain` (what `--json` prints)."""

from __future__ import annotations

import math
from typing import Any

from rich.console import RenderableType
from rich.markup import escape
from rich.table import Table

from familymatch.addresses.explain import address_lines

FIELD_LABELS = {
    "fn": "forename",
    "sn": "surname",
    "dob": "date of birth",
    "loc": "address",
    "sex": "sex",
    "mn": "middle name",
}
STAGE_LABELS = {  # how a link inside a person was made (link_pairs.stage)
    "nino": "NINO",
    "upn": "UPN",
    "fs": "weight",
    "same_row": "same row",
}
BAR_WIDTH = 12  # characters for the largest weight


def weight_of_probability(probability: float) -> float:
    """The match weight (log2 odds) at which a pair reaches ``probability``."""
    return math.log2(probability / (1 - probability))


def _bar(weight: float, largest: float) -> str:
    n = round(BAR_WIDTH * abs(weight) / largest) if largest else 0
    return ("[green]" + "+" * n + "[/]") if weight >= 0 else ("[red]" + "-" * n + "[/]")


def with_frequency(field: dict[str, Any]) -> str:
    """A level's meaning, with the share of people holding the value (or at the place) when
    the weight was adjusted by it ("same surname, 1 in 120 people")."""
    tf = field.get("term_frequency")
    if not tf:
        return str(field["meaning"])
    return f"{field['meaning']}, 1 in {max(round(1 / tf), 1):,} people"


def pair_view(doc: dict[str, Any], threshold: float) -> list[RenderableType]:
    """The waterfall: prior, then each comparison's level and weight, the running total."""
    a, b = doc["records"]
    steps = [("prior", "how often two compared records are one person", doc["prior_weight"])]
    steps += [
        (FIELD_LABELS.get(f, f), with_frequency(v), v["match_weight"])
        for f, v in doc["fields"].items()
    ]
    largest = max(abs(w) for _, _, w in steps)
    t = Table(title=f"{a} and {b}", title_justify="left")
    t.add_column("comparison", no_wrap=True)
    t.add_column("level")
    t.add_column("weight", justify="right", no_wrap=True)
    t.add_column("total", justify="right", no_wrap=True)
    t.add_column("", no_wrap=True)
    running = 0.0
    for label, meaning, weight in steps:
        running += weight
        t.add_row(label, meaning, f"{weight:+.2f}", f"{running:+.2f}", _bar(weight, largest))
    t.add_row("[bold]total[/]", "", "", f"[bold]{doc['match_weight']:+.2f}[/]", "")
    at_or_above = doc["match_probability"] >= threshold
    persons = doc["persons"]
    same = (
        f"yes, both are person {persons[0]}"
        if doc["same_person"]
        else f"no ({persons[0] or 'no person'} and {persons[1] or 'no person'})"
    )
    return [
        t,
        f"match probability {doc['match_probability']:.6f}: "
        f"{'at or above' if at_or_above else 'below'} the threshold {threshold:g} "
        f"(match weight {weight_of_probability(threshold):+.2f})",
        f"decision: {doc['pair_decision']}",
        f"same person in the build: {same}",
    ]


def _joined_by(reason: str) -> str:
    kind, _, value = reason.partition(":")
    if kind == "address":
        return "address " + value.replace("|", ", ")
    if kind == "claim":
        return f"on benefit claim {value}"
    return reason


def _links_by_pair(links: list[dict[str, Any]]) -> list[tuple[list[str], str, str]]:
    """One row per pair of records (either order): its stages and its match weight."""
    pairs: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for link in links:
        pairs.setdefault(tuple(sorted(link["records"])), []).append(link)
    rows = []
    for records, found in sorted(pairs.items()):
        names = {x["stage"] for x in found}
        stages = ", ".join(STAGE_LABELS.get(x, x) for x in sorted(names, key=lambda x: x == "fs"))
        weights = [x["match_weight"] for x in found if x["match_weight"] is not None]
        rows.append((list(records), stages, f"{max(weights):+.2f}" if weights else ""))
    return rows


def household_view(doc: dict[str, Any]) -> list[RenderableType]:
    """Members, the address, what joined each person, and the links inside each person."""
    ref = doc.get("family_ref")
    name = f"{ref} (household {doc['household_id']})" if ref else doc["household_id"]
    n_records = sum(len(p["records"]) for p in doc["members"])
    out: list[RenderableType] = [
        f"[bold]{name}[/]: {len(doc['members'])} people, {n_records} records"
    ]
    if doc.get("address"):
        out.append(escape(f"address: {doc['address']}"))
    t = Table(title="members", title_justify="left")
    t.add_column("person", no_wrap=True)
    t.add_column("records", justify="right", no_wrap=True)
    t.add_column("joined the household by")
    for p in doc["members"]:
        t.add_row(
            p["person_id"],
            str(len(p["records"])),
            escape("; ".join(_joined_by(r) for r in p["joined_household_by"]) or "alone"),
        )
    out.append(t)
    out += [escape(line) for line in address_lines(doc.get("addresses", []))]
    t = Table(
        title="record links inside each person (identical NINO or UPN, or match weight)",
        title_justify="left",
    )
    t.add_column("person", no_wrap=True)
    longest = max((len(r) for p in doc["members"] for r in p["records"]), default=10)
    t.add_column("records linked", min_width=longest)  # wraps between records, not inside
    t.add_column("linked by", no_wrap=True)
    t.add_column("weight", justify="right", no_wrap=True)
    for p in doc["members"]:
        for records, stages, weight in _links_by_pair(p["record_links"]):
            t.add_row(p["person_id"], " = ".join(records), stages, weight)
        if not p["record_links"]:
            t.add_row(p["person_id"], p["records"][0] + " (one record)", "", "")
    out.append(t)
    out += [f"{apart['person_id']}: {apart['reason']}" for apart in doc["parents_living_apart"]]
    return out


def explain_command(
    store: Any, run_id: int, record_a: str | None, record_b: str | None, household: str | None
) -> tuple[dict[str, Any], list[RenderableType]]:
    """`link explain`: a family's household (``household`` given) or two records' waterfall, as
    a document and its lines."""
    from familymatch.errors import FamilyMatchError
    from familymatch.link.explain import explain_family, explain_pair_in_run
    from familymatch.store.families import resolve_family

    if household is not None:
        doc = explain_family(store, resolve_family(store, run_id, household))
        return doc, household_view(doc)
    if record_a is None or record_b is None:
        raise FamilyMatchError("give two record ids, or --household FAMILY.")
    doc = explain_pair_in_run(store, run_id, record_a, record_b)
    return doc, pair_view(doc, doc["threshold"])
