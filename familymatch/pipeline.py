"""The core pipeline: project file -> records -> standardised -> address entities -> persons ->
households.

A pure composition of the stages (each a frame-in, frame-out function in its own module); the
database and the rules sit above it. Stage timings are recorded for the summary and benchmarks.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import polars as pl

from familymatch.addresses import AddressResult, resolve_addresses, with_addresses
from familymatch.addresses.claims import ADDRESS_COLUMNS, with_claim_addresses
from familymatch.addresses.gazetteer import read_gazetteer
from familymatch.addresses.persons import place_by_person
from familymatch.canonical import CANONICAL_SCHEMA
from familymatch.households import HouseholdResult, build_households
from familymatch.ingest import IngestResult, ingest_project
from familymatch.link import LinkResult, input_columns, link_records
from familymatch.link.model import FSModel
from familymatch.logs import get_logger
from familymatch.progress import Progress, no_progress, timed_stage
from familymatch.project import Project
from familymatch.standardise import standardise

log = get_logger(__name__)

# told each result as soon as no later stage changes it (a build writes it then: rules/build.py)
Final = Callable[["IngestResult | LinkResult | AddressResult"], None]


def _nothing(_: IngestResult | LinkResult | AddressResult) -> None:
    return None


@dataclass
class LinkedProject:
    """Everything the core computes for one project at one reference date."""

    project: Project
    reference_date: date
    ingest: IngestResult
    std: pl.DataFrame
    addresses: AddressResult
    link: LinkResult
    households: HouseholdResult
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def membership(self) -> pl.DataFrame:
        """record_id, person_id, household_id for every record."""
        return self.households.membership


def link_project(
    project: Project,
    reference_date: date | None = None,
    progress: Progress | None = None,
    model: FSModel | None = None,
    final: Final = _nothing,
) -> LinkedProject:
    """Ingest every source of ``project``, standardise, resolve addresses, link into persons,
    group into households. ``final`` is told the ingest's result once its records are final
    (after standardise), the link's after the link stage and the addresses' after their second
    half."""
    say = progress or no_progress
    as_of = reference_date or project.reference_date
    seconds: dict[str, float] = {}

    with timed_stage("ingest", say, seconds) as done:
        ingested = ingest_project(project)
        done(ingested.records.height, "records")
    log.info(
        "ingest: %d records, %d rows rejected", ingested.records.height, ingested.rejects.height
    )

    with timed_stage("standardise", say, seconds) as done:
        std = standardise(ingested.records)
        # standardise rechunks, so the ingest's frame is a second copy of the canonical columns;
        # they are kept once, as columns of std (the same values; no later stage changes them),
        # from here on rather than after the address stage, whose peak it would add to
        ingested.records = std.select(list(CANONICAL_SCHEMA))
        done(std.height, "records")
    final(ingested)

    with timed_stage("addresses", say, seconds) as done:
        addresses = resolve_addresses(std, read_gazetteer(project.gazetteer))
        std = with_addresses(std, addresses)
        done(addresses.addresses.height, "addresses")
    if addresses.gazetteer_share is not None:
        log.info("addresses: %.1f%% resolved to the gazetteer", 100 * addresses.gazetteer_share)

    with timed_stage("link", say, seconds) as done:
        # a dependant's row without an address compares at its claim's (households: its own)
        # only the columns the stage reads: the claim addresses' other columns are not held
        # handed over as a temporary, which link_records narrows to what clustering reads once
        # it has its linkable records (no reference here keeps the claim addresses alive)
        reads = input_columns(std.columns)
        claimed = tuple(c for c in ADDRESS_COLUMNS if c in reads)
        linked = link_records(with_claim_addresses(std, claimed).select(reads), model=model)
        done(linked.persons["person_id"].n_unique(), "persons")
    final(linked)

    # the address stage's second half: a person's other records as evidence (counted with it)
    t = time.perf_counter()
    std, addresses = place_by_person(std, linked.persons, addresses)
    seconds["addresses"] += time.perf_counter() - t
    final(addresses)

    with timed_stage("households", say, seconds) as done:
        households = build_households(std, linked.persons, as_of)
        done(households.households.height, "households")

    return LinkedProject(
        project=project,
        reference_date=as_of,
        ingest=ingested,
        std=std,
        addresses=addresses,
        link=linked,
        households=households,
        seconds=seconds,
    )
