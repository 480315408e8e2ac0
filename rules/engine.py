"""Evaluate a rule set per household at a reference date, keeping the rows that prove each
indicator (the evidence) and the near-misses ("absence 14.9%, threshold 15%").

Input: standardised (or canonical) records and ``membership`` (record_id, person_id,
household_id). A person's date of birth is the most common one across their records (ties: the
earliest); ages are whole years at the reference date, or at the event for ``age_at_event_max``.
An age test (child, adult, age limits, the age at the event) is also met by the youngest date of
the person's that differs from the usual one by a keying slip (``people.youngest_slip_dob``:
1997 / 1979 on two records of one person, nothing says which is right), else by the usual date
with its year's digits transposed where the usual one is impossible for the person's own
sources (``people.source_slip_dob``: a pupil of 32).
All work is polars joins and group-bys; the output order is deterministic.
"""

from __future__ import annotations

import calendar as _calendar
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

from familymatch.canonical import OUTCOME_CODES, YOUTH_ONLY_OUTCOMES
from familymatch.people import age_in_years, modal_dob, source_slip_dob, youngest_slip_dob
from rules.ruleset import ANY_KIND, Indicator, RuleSet
from rules.terms import Calendar, load_calendar

NEAR_DAYS = 31  # how far outside a window a row still counts as a near-miss


@dataclass
class Evaluation:
    rule_set: RuleSet
    reference_date: date
    indicator_results: pl.DataFrame
    evidence: pl.DataFrame
    cohort: pl.DataFrame
    unknown_codes: list[str] = field(default_factory=list)

    @property
    def households_assessed(self) -> int:
        return self.cohort.height


def months_before(d: date, months: int) -> date:
    y, m = divmod(d.month - 1 - months, 12)
    year, month = d.year + y, m + 1
    day = min(d.day, _calendar.monthrange(year, month)[1])
    return date(year, month, day)


def person_dob(records: pl.DataFrame, reference: date) -> pl.DataFrame:
    """person_id, person_dob: the most common date of birth across the person's records;
    slip_dob: the youngest of their other dates that differs from it by a keying slip, else the
    reading with the year's digits transposed that the person's sources require (or null)."""
    usual = modal_dob(records)
    slips = usual.join(youngest_slip_dob(records, usual), on="person_id", how="left").join(
        source_slip_dob(records, usual, reference), on="person_id", how="left", suffix="_source"
    )
    return slips.select(
        "person_id",
        pl.col("dob").alias("person_dob"),
        pl.coalesce("slip_dob", "slip_dob_source").alias("slip_dob"),
    )


EVIDENCE_SCHEMA = {
    "household_id": pl.String,
    "criterion": pl.String,
    "indicator": pl.String,
    "record_id": pl.String,
    "source": pl.String,
    "row": pl.Int64,
    "person_id": pl.String,
    "date": pl.Date,
    "value": pl.String,
}
RESULT_SCHEMA = {
    "household_id": pl.String,
    "indicator": pl.String,
    "met": pl.Boolean,
    "value": pl.Float64,
    "threshold": pl.Float64,
    "note": pl.String,
}


def _who(ind: Indicator) -> pl.Expr:
    """Whom the indicator looks at, as a row predicate on ``age`` or, when the person has a date
    that differs from their usual one by a keying slip, on ``slip_age`` (either reading meets
    it). Always a column expression: a bare literal predicate fails in polars 2.1 on some
    multi-chunk frames."""

    def conds(age: pl.Expr) -> list[pl.Expr]:
        out = []
        if ind.who == "child":
            out.append(age < 18)
        elif ind.who == "adult":
            out.append(age >= 18)
        if ind.age_min is not None:
            out.append(age >= ind.age_min)
        if ind.age_max is not None:
            out.append(age <= ind.age_max)
        return out

    usual, slip = conds(pl.col("age")), conds(pl.col("slip_age"))
    if not usual:
        return pl.col("record_id").is_not_null()
    return pl.all_horizontal(usual).fill_null(False) | pl.all_horizontal(slip).fill_null(False)


def _child_by_disposal() -> pl.Expr:
    """A person with no date of birth on any record whose outcome is a disposal only a child
    can be given (``YOUTH_ONLY_OUTCOMES``: a referral order, a youth rehabilitation order): under
    18 at the offence. A conviction or a caution says nothing of age, so it stays unknown."""
    code = pl.col("outcome").str.strip_chars().str.to_uppercase()
    return pl.col("person_dob").is_null() & code.is_in(list(YOUTH_ONLY_OUTCOMES)).fill_null(False)


def _evaluate_count(
    ind: Indicator, rows: pl.LazyFrame, ref: date, cal: Calendar
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per household result and the evidence rows for a count indicator."""
    d = pl.col("event_date")
    if ind.window_months is not None:
        lower = months_before(ref, ind.window_months)
        inside = (d > lower) & (d <= ref)
        near = (d <= lower) & (d > lower - timedelta(days=NEAR_DAYS))
        window_text = f"the {ind.window_months}-month window"
        outside_days = (pl.lit(lower) - d).dt.total_days() + 1
    elif ind.window_terms is not None:
        lower = cal.event_window_start(ref, ind.window_terms)
        inside = (d >= lower) & (d <= ref)
        near = (d < lower) & (d >= lower - timedelta(days=NEAR_DAYS))
        window_text = f"the last {ind.window_terms} terms"
        outside_days = (pl.lit(lower) - d).dt.total_days()
    elif ind.open_at_reference:
        end = pl.col("end_date")
        inside = (d.is_null() | (d <= ref)) & (end.is_null() | (end >= ref))
        near = end.is_not_null() & (end < ref) & (end >= ref - timedelta(days=NEAR_DAYS))
        window_text = "the reference date"
        outside_days = (pl.lit(ref) - end).dt.total_days()
    else:
        inside = d.is_null() | (d <= ref)
        near = pl.lit(False)
        window_text = ""
        outside_days = pl.lit(0)
    age_ok = pl.lit(True)
    if ind.age_at_event_max is not None:
        limit = ind.age_at_event_max
        age_ok = (age_in_years(pl.col("person_dob"), pl.col("event_date")) <= limit).fill_null(
            False
        ) | (age_in_years(pl.col("slip_dob"), pl.col("event_date")) <= limit).fill_null(False)
        if limit >= 17:  # a youth disposal proves under 18, so any lower limit stays unknown
            age_ok = age_ok | _child_by_disposal()
    scoped = rows.filter(_who(ind)).collect()
    qualifying = scoped.filter(inside & age_ok)
    per_person = qualifying.group_by("household_id", "person_id").len()
    met_people = per_person.filter(pl.col("len") >= ind.min_count)
    households = (
        per_person.group_by("household_id")
        .agg(pl.col("len").max().alias("value"))
        .with_columns(
            (pl.col("value") >= ind.min_count).alias("met"),
            pl.lit(float(ind.min_count)).alias("threshold"),
        )
        .with_columns(
            pl.when(~pl.col("met"))
            .then(
                pl.format(
                    f"{{}} qualifying rows in {window_text or 'the data'}, need {ind.min_count}",
                    pl.col("value"),
                )
            )
            .alias("note")
        )
    )
    near_notes = []
    if window_text:
        near_rows = scoped.filter(near & age_ok).with_columns(outside_days.alias("days_out"))
        what = "ended" if ind.open_at_reference else "falls"
        near_notes.append(
            near_rows.group_by("household_id")
            .agg(pl.col("days_out").min())
            .select(
                "household_id",
                pl.format(f"{what} {{}} day(s) outside {window_text}", pl.col("days_out")).alias(
                    "near"
                ),
            )
        )
    if ind.age_at_event_max is not None:
        too_old = scoped.filter(inside & ~age_ok & pl.col("person_dob").is_not_null())
        near_notes.append(
            too_old.group_by("household_id")
            .agg(age_in_years(pl.col("person_dob"), pl.col("event_date")).min().alias("a"))
            .select(
                "household_id",
                pl.format(
                    f"event at age {{}}, rule is {ind.age_at_event_max} or under", pl.col("a")
                ).alias("near"),
            )
        )
    for notes in near_notes:
        households = (
            households.join(notes, on="household_id", how="full", coalesce=True)
            .with_columns(
                pl.col("met").fill_null(False),
                pl.col("value").fill_null(0).cast(pl.Float64),
                pl.col("threshold").fill_null(float(ind.min_count)),
                pl.coalesce("note", "near").alias("note"),
            )
            .drop("near")
        )
    evidence = qualifying.join(met_people.select("person_id"), on="person_id").select(
        "household_id",
        "record_id",
        "source",
        "row",
        "person_id",
        pl.coalesce("event_date", "end_date").alias("date"),
        pl.coalesce("event_type", pl.lit(ind.kind)).alias("value"),
    )
    return households.select(
        "household_id",
        "met",
        pl.col("value").cast(pl.Float64),
        pl.col("threshold").cast(pl.Float64),
        "note",
    ), evidence


_RATE_READS = (
    "household_id",
    "person_id",
    "record_id",
    "source",
    "row",
    "term",
    "sessions_possible",
    "sessions_authorised",
    "sessions_unauthorised",
)


def _evaluate_rate(
    ind: Indicator, rows: pl.LazyFrame, ref: date, cal: Calendar
) -> tuple[pl.DataFrame, pl.DataFrame]:
    assert ind.census_terms is not None and ind.threshold_pct is not None
    terms = cal.census_terms(ref, ind.census_terms)
    # a pupil's duplicate rows for one term (dual registration, repeated extracts): keep the
    # row with the most possible sessions. One lazy query: the filter copies only the columns
    # read below, not every column of every record (scale 10: the rules stage's peak)
    per_term = (
        rows.filter(_who(ind) & pl.col("term").is_in(terms))
        .select(*_RATE_READS)
        .sort(
            ["person_id", "term", "sessions_possible", "record_id"],
            descending=[False, False, True, False],
        )
        .group_by("person_id", "term", maintain_order=True)
        .first()
        .collect()
    )
    absent = pl.col("sessions_unauthorised").fill_null(0)
    if ind.measure == "absence_rate":
        absent = absent + pl.col("sessions_authorised").fill_null(0)
    per_person = (
        per_term.group_by("household_id", "person_id")
        .agg(
            absent.sum().alias("absent"),
            pl.col("sessions_possible").fill_null(0).sum().alias("possible"),
        )
        .filter(pl.col("possible") > 0)
    )
    threshold = ind.threshold_pct
    per_person = per_person.with_columns(
        (pl.col("absent") * 100 >= pl.col("possible") * threshold).alias("met"),
        (pl.col("absent") * 100 / pl.col("possible")).alias("rate"),
    )
    label = "unauthorised absence" if ind.measure == "unauthorised_rate" else "absence"
    households = (
        per_person.group_by("household_id")
        .agg(pl.col("met").any(), pl.col("rate").max().alias("value"))
        .with_columns(
            pl.lit(threshold).alias("threshold"),
            pl.when(~pl.col("met"))
            .then(
                pl.format(
                    f"{label} {{}}% over {len(terms)} terms, threshold {threshold:g}%",
                    pl.col("value").round(1),
                )
            )
            .alias("note"),
        )
    )
    met_people = per_person.filter(pl.col("met")).select("person_id")
    evidence = per_term.join(met_people, on="person_id").select(
        "household_id",
        "record_id",
        "source",
        "row",
        "person_id",
        pl.lit(None, dtype=pl.Date).alias("date"),
        pl.format(
            "{} {}/{} sessions",
            pl.col("term"),
            absent,
            pl.col("sessions_possible"),
        ).alias("value"),
    )
    return households.select("household_id", "met", "value", "threshold", "note"), evidence


BASE_COLUMNS = [
    "record_id",
    "source",
    "kind",
    "row",
    "dob",
    "relationship",
    "event_type",
    "outcome",
    "event_date",
    "end_date",
    "term",
    "sessions_possible",
    "sessions_authorised",
    "sessions_unauthorised",
]


def outcome_counts(outcomes: tuple[str, ...]) -> pl.Expr:
    """A record whose outcome is listed (compared in capitals, trimmed) or null."""
    code = pl.col("outcome").str.strip_chars().str.to_uppercase()
    return code.is_null() | code.is_in(list(outcomes))


def _indicators(
    rule_set: RuleSet, base: pl.LazyFrame, reference_date: date, cal: Calendar
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Every indicator for every household in ``base`` (records with their person, household
    and ages; a query, so no frame of every record's facts is held): (results, evidence)."""
    results = []
    evidence = []
    for ind in rule_set.indicators.values():
        lazy = base if ind.kind == ANY_KIND else base.filter(pl.col("kind") == ind.kind)
        if ind.event_types:
            lazy = lazy.filter(pl.col("event_type").is_in(list(ind.event_types)))
        if ind.outcomes:
            lazy = lazy.filter(outcome_counts(ind.outcomes))
        # each measure collects only the records it reads, joined to their people
        if ind.measure == "count":
            res, ev = _evaluate_count(ind, lazy, reference_date, cal)
        else:
            res, ev = _evaluate_rate(ind, lazy, reference_date, cal)
        results.append(res.with_columns(pl.lit(ind.name).alias("indicator")))
        evidence.append(ev.with_columns(pl.lit(ind.name).alias("indicator")))
    ind_results = (
        pl.concat(results, how="diagonal_relaxed").select(list(RESULT_SCHEMA))
        if results
        else pl.DataFrame(schema=RESULT_SCHEMA)
    )
    ev = (
        pl.concat(evidence, how="diagonal_relaxed")
        if evidence
        else pl.DataFrame(schema={k: v for k, v in EVIDENCE_SCHEMA.items() if k != "criterion"})
    )
    return ind_results, ev


def _criteria_met(rule_set: RuleSet, ind_results: pl.DataFrame) -> pl.DataFrame:
    """household_id, criterion: every criterion each household meets."""
    rows = []
    for c in rule_set.criteria.values():
        rows.append(
            ind_results.filter(pl.col("indicator").is_in(list(c.indicators)) & pl.col("met"))
            .group_by("household_id")
            .agg(pl.col("indicator").n_unique().alias("n"))
            .filter(pl.col("n") >= c.at_least)
            .select("household_id", pl.lit(c.name).alias("criterion"))
        )
    return pl.concat(rows)


def _with_ages(base: pl.LazyFrame, people: pl.DataFrame, reference_date: date) -> pl.LazyFrame:
    """``base``'s records with their person's usual date of birth, its slip and both ages."""
    return base.join(people.lazy(), on="person_id", how="left").with_columns(
        age_in_years(pl.col("person_dob"), pl.lit(reference_date)).alias("age"),
        age_in_years(pl.col("slip_dob"), pl.lit(reference_date)).alias("slip_age"),
    )


def evaluate(
    rule_set: RuleSet,
    records: pl.DataFrame,
    membership: pl.DataFrame,
    reference_date: date,
    calendar: Calendar | None = None,
    apart_parents: pl.DataFrame | None = None,
) -> Evaluation:
    """Evaluate ``rule_set`` for every household in ``membership``.

    ``apart_parents`` (household_id, person_id): parents living apart from the household's
    children. When the rule set sets ``entry.parent_apart_max_problems``, their records count
    for the household too, but the criteria only they make met are limited to that many (the
    first in the rule set's order); otherwise they are not counted."""
    cal = calendar or load_calendar()
    facts = records.lazy().select(BASE_COLUMNS)
    members = membership.lazy().select("record_id", "person_id", "household_id")
    # every member's dates of birth decide their person's (the columns person_dob reads)
    dobs = facts.select("record_id", "dob", "kind", "relationship").join(
        members.select("record_id", "person_id"), on="record_id"
    )
    people = person_dob(dobs.collect(), reference_date)
    base = _with_ages(facts.join(members, on="record_id"), people, reference_date)
    ind_results, ev = _indicators(rule_set, base, reference_date, cal)
    criteria_met = _criteria_met(rule_set, ind_results)

    cap = rule_set.entry.parent_apart_max_problems
    apart_rows = pl.DataFrame(schema={"household_id": pl.String, "person_id": pl.String})
    if cap is not None and apart_parents is not None and apart_parents.height:
        apart_rows = apart_parents.select("household_id", "person_id").unique()
        # the parents' own records, under the children's household
        theirs = facts.join(
            members.select("record_id", "person_id").join(apart_rows.lazy(), on="person_id"),
            on="record_id",
        )
        touched = apart_rows.select("household_id").unique()
        scope = pl.concat(
            [
                base.join(touched.lazy(), on="household_id"),
                _with_ages(theirs, people, reference_date),
            ],
            how="diagonal_relaxed",
        )
        ind_all, ev_all = _indicators(rule_set, scope, reference_date, cal)
        order = {name: i for i, name in enumerate(rule_set.criteria)}
        extra = (
            _criteria_met(rule_set, ind_all)
            .join(criteria_met, on=["household_id", "criterion"], how="anti")
            .with_columns(pl.col("criterion").replace_strict(order).alias("o"))
            .sort("household_id", "o")
        )
        kept = extra.group_by("household_id", maintain_order=True).head(cap).drop("o")
        criteria_met = pl.concat([criteria_met, kept])
        keep_hh = ~pl.col("household_id").is_in(touched["household_id"].implode())
        ind_results = pl.concat([ind_results.filter(keep_hh), ind_all], how="diagonal_relaxed")
        ev = pl.concat([ev.filter(keep_hh), ev_all], how="diagonal_relaxed")

    households = membership.select("household_id").unique().sort("household_id")

    # criteria
    criterion_of: dict[str, list[str]] = {}
    for c in rule_set.criteria.values():
        for i in c.indicators:
            criterion_of.setdefault(i, []).append(c.name)
    names = sorted(rule_set.criteria)
    per_household = criteria_met.group_by("household_id").agg(
        pl.col("criterion").unique().sort().alias("criteria")
    )

    def met_any(names_: tuple[str, ...]) -> pl.DataFrame:
        return (
            ind_results.filter(pl.col("indicator").is_in(list(names_)) & pl.col("met"))
            .select("household_id")
            .unique()
        )

    cohort = households.join(per_household, on="household_id", how="left").with_columns(
        pl.col("criteria").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    cohort = cohort.with_columns(
        pl.col("criteria").list.len().alias("n_criteria"),
        pl.col("criteria").list.join("+").alias("combination"),
        pl.col("household_id")
        .is_in(met_any(rule_set.entry.local_filter)["household_id"].implode())
        .alias("local_filter"),
    )
    require_ok = pl.lit(True)
    if rule_set.entry.require_any:
        require_ok = pl.col("household_id").is_in(
            met_any(rule_set.entry.require_any)["household_id"].implode()
        )
    e = rule_set.entry
    enough = pl.col("n_criteria") >= e.at_least
    all_met = pl.col("n_criteria") == len(names)
    admitted = (all_met & pl.lit(e.all_criteria_admit)) | (
        enough & (pl.lit(e.take_all_at_least) | pl.col("local_filter") | pl.lit(not e.local_filter))
    )
    cohort = cohort.with_columns((enough & admitted & require_ok).alias("in_cohort"))

    # evidence rows, one per criterion the indicator serves
    crit_map = pl.DataFrame(
        [(i, c) for i, cs in criterion_of.items() for c in cs],
        schema={"indicator": pl.String, "criterion": pl.String},
        orient="row",
    )
    ev = ev.join(crit_map, on="indicator", how="left").with_columns(
        pl.col("criterion").fill_null("entry")
    )
    if apart_rows.height:
        # a parent living apart's rows prove only the criteria counted for the household
        counted = criteria_met.select("household_id", "criterion", pl.lit(True).alias("counted"))
        ev = (
            ev.join(
                apart_rows.with_columns(pl.lit(True).alias("apart")),
                on=["household_id", "person_id"],
                how="left",
            )
            .join(counted, on=["household_id", "criterion"], how="left")
            .filter(pl.col("apart").is_null() | pl.col("counted").is_not_null())
            .drop("apart", "counted")
        )
    ev = ev.select(list(EVIDENCE_SCHEMA)).sort(
        "household_id", "criterion", "indicator", "record_id"
    )
    ind_results = (
        ind_results.join(crit_map, on="indicator", how="left")
        .with_columns(pl.col("criterion").fill_null("entry"))
        .select("household_id", "criterion", "indicator", "met", "value", "threshold", "note")
        .sort("household_id", "criterion", "indicator")
    )
    return Evaluation(
        rule_set=rule_set,
        reference_date=reference_date,
        indicator_results=ind_results,
        evidence=ev,
        cohort=cohort.sort("household_id"),
        unknown_codes=unknown_codes(rule_set, records),
    )


def unknown_codes(rule_set: RuleSet, records: pl.DataFrame) -> list[str]:
    """Event codes of kinds the rules list codes for, that no rule lists (counted, not ignored)."""
    listed: dict[str, set[str]] = {}
    accepts_all = {i.kind for i in rule_set.indicators.values() if not i.event_types}
    for ind in rule_set.indicators.values():
        if ind.event_types and ind.kind not in accepts_all:
            listed.setdefault(ind.kind, set()).update(ind.event_types)
    messages = []
    for kind, codes in sorted(listed.items()):
        counts = (
            records.filter((pl.col("kind") == kind) & pl.col("event_type").is_not_null())
            .filter(~pl.col("event_type").is_in(sorted(codes)))
            .group_by("event_type")
            .len()
            .sort("event_type")
        )
        for code, n in counts.iter_rows():
            messages.append(f"{kind}: {n} row(s) with type '{code}' match no rule")
    return messages + unknown_outcomes(rule_set, records)


def unknown_outcomes(rule_set: RuleSet, records: pl.DataFrame) -> list[str]:
    """Outcome labels that are not canonical codes, of kinds an indicator filters by outcome:
    such rows never count, so a mapping that forgot to map a label shows here."""
    kinds = sorted({i.kind for i in rule_set.indicators.values() if i.outcomes})
    code = pl.col("outcome").str.strip_chars().str.to_uppercase()
    counts = (
        records.filter(pl.col("kind").is_in(kinds) & code.is_not_null())
        .filter(~code.is_in(list(OUTCOME_CODES)))
        .group_by("kind", code.alias("code"))
        .len()
        .sort("kind", "code")
    )
    return [
        f"{kind}: {n} row(s) with outcome '{label}' (not an outcome code) never count"
        for kind, label, n in counts.iter_rows()
    ]


def summarise(evaluation: Evaluation, run_id: object) -> dict[str, object]:
    """The stable JSON summary of a cohort build."""
    cohort = evaluation.cohort.filter(pl.col("in_cohort"))
    by_count = cohort.group_by("n_criteria").len().sort("n_criteria", descending=True)
    by_combo = (
        cohort.group_by("combination").len().sort(["len", "combination"], descending=[True, False])
    )
    return {
        "run_id": run_id,
        "households_assessed": evaluation.households_assessed,
        "cohort": {
            "total": cohort.height,
            "by_count": {str(k): int(v) for k, v in by_count.iter_rows()},
            "by_combination": {str(k): int(v) for k, v in by_combo.iter_rows()},
        },
    }
