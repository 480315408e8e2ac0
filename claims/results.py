"""Which result each attached family has achieved at a date, and why: the decision engine
behind ``claims prepare`` and ``claims verify``.

Pure functions over plain rows: ``decide`` takes the framework, the attached families (with
their criteria at entry) and each family's facts (records of the build and of the later
period, already mapped to the build's persons), and returns one :class:`Decision` per family
with every figure that decided it as :class:`Line` s. The same inputs give the same decisions;
audit re-runs this to verify a claim.

Components (docs/claims.md): ``school`` (every child: exclusions and absence over the last
census terms), ``reduction`` (events after attachment against the months before), ``none_in_window``
and ``none_open`` (no event / no open benefit claim now). A component is *met*, *not met*,
*neutral* (nothing to measure, or not a problem at entry and still none) or a *new problem* (not
a problem at entry, is one now: it blocks the result, as the framework says). A components
result is achieved when nothing is not met, nothing is new, and at least one component was a
problem that is now met.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from claims.framework import Component, Framework, ResultRule
from rules.engine import months_before
from rules.terms import Calendar

Fact = dict[str, Any]


@dataclass(frozen=True)
class Line:
    """One figure or row behind a decision (the claim workbook's evidence sheet)."""

    component: str
    measure: str
    person_id: str | None = None
    record_id: str | None = None
    source: str | None = None
    row: int | None = None
    date: date | None = None
    before: str | None = None
    after: str | None = None
    threshold: str | None = None
    met: bool | None = None


@dataclass
class Outcome:
    name: str
    status: str  # met | not_met | neutral | new_problem | too_early | achieved | not_achieved
    summary: str
    lines: list[Line] = field(default_factory=list)


@dataclass
class Family:
    family_ref: str
    household_id: str
    key_worker: str | None
    attached_on: date
    criteria: tuple[str, ...]  # criteria met at entry (the build's combination)


@dataclass
class Decision:
    family: Family
    results: tuple[str, ...]  # claimed now, in framework order
    amount: Decimal
    programme_year: str | None
    reason: str  # why claimed / why not
    outcomes: list[Outcome]

    @property
    def claimed(self) -> bool:
        return bool(self.results)

    @property
    def lines(self) -> list[Line]:
        return [line for o in self.outcomes for line in o.lines]


def pct(value: Decimal) -> str:
    return f"{(value * 100).quantize(Decimal('0.1'))}%"


def _in(d: date | None, start: date, end: date) -> bool:
    """start < d <= end (a window of N months ending at ``end``)."""
    return d is not None and start < d <= end


def _age(dob: date | None, when: date) -> int | None:
    if dob is None:
        return None
    return when.year - dob.year - ((when.month, when.day) < (dob.month, dob.day))


def _unique_events(facts: Iterable[Fact]) -> list[Fact]:
    """One event per person, kind, type and date (a later extract repeats earlier history)."""
    seen: dict[tuple[Any, ...], Fact] = {}
    for f in sorted(facts, key=lambda f: (f["period"] != "later", f["record_id"])):
        key = (f["person_id"], f["kind"], f["event_type"], f["event_date"])
        seen.setdefault(key, f)
    return sorted(seen.values(), key=lambda f: (f["event_date"] or date.min, f["record_id"]))


def _row_line(comp: str, measure: str, f: Fact, **kw: Any) -> Line:
    return Line(
        component=comp,
        measure=measure,
        person_id=f["person_id"],
        record_id=f["record_id"],
        source=f["source"],
        row=f["row"],
        date=f["event_date"],
        **kw,
    )


def _status(relevant: bool, ok: bool) -> str:
    if ok:
        return "met" if relevant else "neutral"
    return "not_met" if relevant else "new_problem"


def _absent(row: Fact, measure: str) -> int:
    """Sessions missed in one census row: unauthorised, or all (``overall``)."""
    authorised = (row["sessions_authorised"] or 0) if measure == "overall" else 0
    return int((row["sessions_unauthorised"] or 0) + authorised)


def school_component(
    comp: Component, family: Family, facts: Sequence[Fact], as_of: date, calendar: Calendar
) -> Outcome:
    terms = calendar.census_terms(as_of, comp.terms)
    window_start = calendar.event_window_start(as_of, comp.terms)
    relevant = comp.entry_criterion in family.criteria
    census: dict[str, dict[str, Fact]] = defaultdict(dict)
    for f in facts:
        if f["kind"] == "school_census" and f["term"] in terms:
            have = census[f["person_id"]].get(f["term"])
            if have is None or (f["sessions_possible"] or 0) > (have["sessions_possible"] or 0):
                census[f["person_id"]][f["term"]] = f
    exclusions: dict[str, list[Fact]] = defaultdict(list)
    for f in _unique_events(x for x in facts if x["kind"] == "exclusions"):
        if f["event_date"] is not None and window_start <= f["event_date"] <= as_of:
            exclusions[f["person_id"]].append(f)
    children = sorted(set(census) | set(exclusions))
    label = "unauthorised absence" if comp.absence_measure == "unauthorised" else "absence"
    span = f"{terms[0]} to {terms[-1]}"
    if not children:
        return Outcome(
            comp.name,
            "neutral",
            f"{comp.name}: no child with census data or exclusions in {span}",
            [Line(comp.name, f"children with school data, {span}", after="0", met=None)],
        )
    lines: list[Line] = []
    failures: list[str] = []
    for child in children:
        rows = [census[child][t] for t in terms if t in census[child]]
        possible = sum(r["sessions_possible"] or 0 for r in rows)
        absent = sum(_absent(r, comp.absence_measure) for r in rows)
        rate = Decimal(absent) / Decimal(possible) if possible else Decimal(0)
        fixed = [f for f in exclusions[child] if f["event_type"] == "FIXED"]
        permanent = [f for f in exclusions[child] if f["event_type"] == "PERMANENT"]
        absence_ok = rate < comp.max_absence
        exclusions_ok = len(fixed) < comp.max_exclusions and not permanent
        lines.append(
            Line(
                comp.name,
                f"{label}, {span}",
                person_id=child,
                after=f"{pct(rate)} ({absent}/{possible} sessions)",
                threshold=f"below {pct(comp.max_absence)}",
                met=absence_ok,
            )
        )
        lines.append(
            Line(
                comp.name,
                f"exclusions since {window_start.isoformat()}",
                person_id=child,
                after=f"{len(fixed)} fixed-term, {len(permanent)} permanent",
                threshold=f"fewer than {comp.max_exclusions} fixed-term, no permanent",
                met=exclusions_ok,
            )
        )
        for r in rows:
            absent_r = _absent(r, comp.absence_measure)
            lines.append(
                _row_line(
                    comp.name,
                    f"census {r['term']}",
                    r,
                    after=f"{absent_r}/{r['sessions_possible']} sessions",
                )
            )
        for f in fixed + permanent:
            lines.append(_row_line(comp.name, f"{f['event_type'].lower()} exclusion", f))
        if not absence_ok:
            failures.append(f"a child's {label} {pct(rate)} (threshold {pct(comp.max_absence)})")
        if not exclusions_ok:
            failures.append(
                f"a child with {len(fixed)} fixed-term and {len(permanent)} permanent exclusions"
            )
    ok = not failures
    status = _status(relevant, ok)
    summary = (
        f"{comp.name}: every child below {pct(comp.max_absence)} {label} and under "
        f"{comp.max_exclusions} exclusions"
        if ok
        else f"{comp.name}: " + "; ".join(sorted(set(failures)))
    )
    if status == "new_problem":
        summary += " (not a problem at entry: a new problem)"
    return Outcome(comp.name, status, summary, lines)


def _matches(comp: Component, f: Fact, dobs: dict[str, date | None]) -> bool:
    if f["kind"] not in comp.kinds:
        return False
    if comp.event_types and f["event_type"] not in comp.event_types:
        return False
    outcome = (f.get("outcome") or "").strip().upper()
    if comp.outcomes and outcome and outcome not in comp.outcomes:
        return False
    if comp.age_under is not None:
        age = _age(dobs.get(f["person_id"]), f["event_date"]) if f["event_date"] else None
        if age is None or age >= comp.age_under:
            return False
    return True


def reduction_component(
    comp: Component,
    family: Family,
    facts: Sequence[Fact],
    as_of: date,
    dobs: dict[str, date | None],
) -> Outcome:
    base_start = months_before(family.attached_on, comp.baseline_months)
    win_start = months_before(as_of, comp.window_months)
    what = "/".join(k.replace("_", " ") for k in comp.kinds)
    if comp.age_under is not None:
        what += f" (under {comp.age_under})"
    if win_start < family.attached_on:
        ready = months_before(family.attached_on, -comp.window_months)
        return Outcome(
            comp.name,
            "too_early",
            f"{comp.name}: the {comp.window_months}-month window after attachment is not over "
            f"until {ready.isoformat()}",
            [Line(comp.name, f"{what}: window after attachment", after="not complete", met=False)],
        )
    events = _unique_events(f for f in facts if _matches(comp, f, dobs))
    before = [f for f in events if _in(f["event_date"], base_start, family.attached_on)]
    after = [f for f in events if _in(f["event_date"], win_start, as_of)]
    b, a = len(before), len(after)
    relevant = b > 0 or (
        comp.entry_criterion is not None and comp.entry_criterion in family.criteria
    )
    if b > 0:
        reduction = Decimal(b - a) / Decimal(b)
        ok = reduction >= comp.min_reduction
        figure = f"down {pct(reduction)}" if reduction >= 0 else f"up {pct(-reduction)}"
    else:
        ok = a == 0
        figure = "none before, none after" if ok else f"none before, {a} after"
    status = _status(relevant, ok)
    lines = [
        Line(
            comp.name,
            f"{what}: {comp.baseline_months} months to attachment vs {comp.window_months} "
            f"months to {as_of.isoformat()}",
            before=str(b),
            after=str(a),
            threshold=f"down {pct(comp.min_reduction)} or more" if b else "none",
            met=ok,
        )
    ]
    lines += [_row_line(comp.name, "before attachment", f) for f in before]
    lines += [_row_line(comp.name, "claim window", f) for f in after]
    summary = f"{comp.name}: {what} {b} before, {a} after ({figure})"
    if status == "new_problem":
        summary += " (a new problem)"
    return Outcome(comp.name, status, summary, lines)


def _open_at(f: Fact, when: date) -> bool:
    start, end = f["event_date"], f["end_date"]
    return start is not None and start <= when and (end is None or end >= when)


def window_component(
    comp: Component,
    family: Family,
    facts: Sequence[Fact],
    as_of: date,
    dobs: dict[str, date | None],
) -> Outcome:
    relevant = comp.entry_criterion in family.criteria
    what = "/".join(k.replace("_", " ") for k in comp.kinds)
    if comp.test == "none_open":
        hits = [
            f
            for f in facts
            if f["period"] == "later" and _matches(comp, f, dobs) and _open_at(f, as_of)
        ]
        measure = f"{what} open on {as_of.isoformat()}"
    else:
        start = months_before(as_of, comp.window_months)
        hits = _unique_events(
            f for f in facts if _matches(comp, f, dobs) and _in(f["event_date"], start, as_of)
        )
        measure = f"{what} in the {comp.window_months} months to {as_of.isoformat()}"
    ok = not hits
    status = _status(relevant, ok)
    lines = [Line(comp.name, measure, after=str(len(hits)), threshold="none", met=ok)]
    lines += [_row_line(comp.name, measure, f) for f in hits]
    summary = f"{comp.name}: {len(hits)} {measure}"
    if status == "new_problem":
        summary += " (a new problem)"
    return Outcome(comp.name, status, summary, lines)


def components_result(
    rule: ResultRule,
    fw: Framework,
    family: Family,
    facts: Sequence[Fact],
    as_of: date,
    calendar: Calendar,
    dobs: dict[str, date | None],
) -> Outcome:
    parts: list[Outcome] = []
    for name in rule.components:
        comp = fw.components[name]
        if comp.test == "school":
            parts.append(school_component(comp, family, facts, as_of, calendar))
        elif comp.test == "reduction":
            parts.append(reduction_component(comp, family, facts, as_of, dobs))
        else:
            parts.append(window_component(comp, family, facts, as_of, dobs))
    blocking = [p for p in parts if p.status in ("not_met", "new_problem", "too_early")]
    met = [p for p in parts if p.status == "met"]
    if blocking:
        status, summary = "not_achieved", f"{rule.name}: " + "; ".join(p.summary for p in blocking)
    elif not met:
        status = "not_achieved"
        summary = f"{rule.name}: nothing to measure (no component was a problem at attachment)"
    else:
        status, summary = "achieved", f"{rule.name}: " + "; ".join(p.summary for p in met)
    lines = [line for p in parts for line in p.lines]
    lines = [
        Line(rule.name, f"{p.name}: {p.status.replace('_', ' ')}", after=p.summary) for p in parts
    ] + lines
    return Outcome(rule.name, status, summary, lines)


def employment_result(
    rule: ResultRule,
    family: Family,
    facts: Sequence[Fact],
    as_of: date,
    dobs: dict[str, date | None],
    not_jobs: frozenset[str] = frozenset(),
) -> Outcome:
    """``not_jobs``: employment event types that are steps towards work (the framework's
    progress-to-work events, e.g. a Work Programme place), never a job."""
    lines: list[Line] = []
    notes: list[str] = []
    jobs = [
        f
        for f in facts
        if f["kind"] == "employment" and f["event_type"] not in not_jobs and _open_at(f, as_of)
    ]
    benefits = [f for f in facts if f["kind"] == "benefits" and f["event_type"] in rule.benefits]
    open_now = {f["person_id"] for f in benefits if f["period"] == "later" and _open_at(f, as_of)}
    achieved = False
    for job in sorted(jobs, key=lambda f: (f["event_date"], f["record_id"])):
        person, start = job["person_id"], job["event_date"]
        age = _age(dobs.get(person), as_of)
        if age is not None and age < 16:
            continue
        # the out-of-work claim the adult left: open at some point in the look-back before the job
        look_from = months_before(start, rule.lookback_months)
        left = [
            f
            for f in benefits
            if f["person_id"] == person
            and f["event_date"] is not None
            and f["event_date"] <= start
            and (f["end_date"] is None or f["end_date"] >= look_from)
        ]
        weeks = (as_of - start).days // 7
        lines.append(_row_line(rule.name, "employment spell", job, after=f"{weeks} weeks"))
        if not left:
            notes.append("an adult in work was not on an out-of-work benefit before the job")
            continue
        claim = max(left, key=lambda f: (f["event_date"], f["record_id"]))
        need = rule.weeks_by_benefit.get(claim["event_type"], rule.min_weeks)
        ok = weeks >= need and person not in open_now
        lines.append(
            _row_line(
                rule.name,
                f"{claim['event_type']} claim before the job",
                claim,
                before=f"claim from {claim['event_date'].isoformat()}",
                after=f"in work {weeks} weeks since {start.isoformat()}",
                threshold=f"{need} weeks continuous, no open out-of-work claim",
                met=ok,
            )
        )
        if person in open_now:
            notes.append("an adult in work still has an open out-of-work claim")
        elif weeks < need:
            notes.append(f"an adult in work {weeks} weeks of the {need} needed")
        else:
            achieved = True
    if achieved:
        return Outcome(
            rule.name,
            "achieved",
            f"{rule.name}: an adult off benefits and in continuous work",
            lines,
        )
    reason = "; ".join(sorted(set(notes))) or "no adult in work"
    return Outcome(rule.name, "not_achieved", f"{rule.name}: {reason}", lines)


def progress_result(rule: ResultRule, facts: Sequence[Fact], as_of: date) -> Outcome:
    start = months_before(as_of, rule.window_months)
    hits = _unique_events(
        f
        for f in facts
        if f["kind"] == "employment"
        and f["event_type"] in rule.event_types
        and _in(f["event_date"], start, as_of)
    )
    lines = [_row_line(rule.name, "progress to work", f) for f in hits]
    if hits:
        return Outcome(
            rule.name, "achieved", f"{rule.name}: {len(hits)} step(s) towards work", lines
        )
    return Outcome(
        rule.name,
        "not_achieved",
        f"{rule.name}: no {'/'.join(rule.event_types)} in the {rule.window_months} months",
        lines,
    )


def decide(
    fw: Framework,
    families: Sequence[Family],
    facts: dict[str, list[Fact]],
    as_of: date,
    calendar: Calendar,
    dobs: dict[str, date | None],
    already: dict[str, set[str]],
    cap_left: int | None,
) -> list[Decision]:
    """One decision per family (ordered by attachment date, then reference). ``facts`` by
    family_ref; ``already``: results of each family in earlier submissions; ``cap_left``: how many
    more families may be turned around under the funded cap (None: no cap)."""
    turnarounds = {n for n, r in fw.results.items() if r.turnaround}
    steps = frozenset(
        t for r in fw.results.values() if r.kind == "progress_to_work" for t in r.event_types
    )
    out: list[Decision] = []
    left = cap_left
    for fam in sorted(families, key=lambda f: (f.attached_on, f.family_ref)):
        rows = facts.get(fam.family_ref, [])
        outcomes: list[Outcome] = []
        for rule in fw.results.values():
            if rule.kind == "components":
                outcomes.append(components_result(rule, fw, fam, rows, as_of, calendar, dobs))
            elif rule.kind == "continuous_employment":
                outcomes.append(employment_result(rule, fam, rows, as_of, dobs, steps))
            else:
                outcomes.append(progress_result(rule, rows, as_of))
        achieved = [o.name for o in outcomes if o.status == "achieved"]
        basis = fam.attached_on if fw.year_basis == "attachment" else as_of
        year = fw.year_of(basis)
        earlier = already.get(fam.family_ref, set())
        notes: list[str] = []
        chosen: list[str] = []
        if year is None:
            notes.append(f"{basis.isoformat()} is outside the framework's programme years")
            achieved = []
        done_turnaround = earlier & turnarounds
        candidates = [r for r in achieved if r in turnarounds and r not in earlier]
        if done_turnaround and fw.one_turnaround_per_family:
            if any(r in turnarounds for r in achieved):
                notes.append(
                    f"already turned around ({', '.join(sorted(done_turnaround))} claimed before)"
                )
            candidates = []
        if candidates and year is not None:
            best = max(candidates, key=lambda r: (year.results[r], -list(fw.results).index(r)))
            if left is not None and left <= 0:
                notes.append(
                    f"{best} achieved but the funded cap of {fw.funded_families()} families is reached"
                )
            else:
                chosen.append(best)
                if left is not None:
                    left -= 1
        for r in achieved:
            rule = fw.results[r]
            if rule.turnaround or r in earlier:
                if r in earlier and not rule.turnaround:
                    notes.append(f"{r} already claimed before")
                continue
            # never beside a result it excludes, claimed now or in an earlier submission
            paid = [c for c in (*chosen, *earlier) if c in fw.results]
            if any(c in rule.excludes or r in fw.results[c].excludes for c in paid):
                notes.append(f"{r} is not paid beside {', '.join(sorted(set(paid)))}")
                continue
            chosen.append(r)
        chosen = [r for r in fw.results if r in chosen]
        amount = (
            sum((year.results[r] for r in chosen), Decimal("0.00")) if year else Decimal("0.00")
        )
        if chosen:
            reason = "; ".join(o.summary for o in outcomes if o.name in chosen)
        else:
            reason = "; ".join(notes or [o.summary for o in outcomes if o.status != "achieved"])
        out.append(
            Decision(
                family=fam,
                results=tuple(chosen),
                amount=amount.quantize(Decimal("0.01")),
                programme_year=year.name if year else None,
                reason=reason,
                outcomes=outcomes,
            )
        )
    return out
