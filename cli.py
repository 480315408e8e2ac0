"""The familymatch command line: one verb per user job, thin, calling the packages below.

Nothing imports this module. Every command turns a FamilyMatchError into one sentence on stderr
and a non-zero exit; heavy imports happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from familymatch.errors import FamilyMatchError
from familymatch.logs import setup_logging

F = TypeVar("F", bound=Callable[..., Any])

console = Console()
err_console = Console(stderr=True)

app = typer.Typer(
    name="familymatch",
    help="Find Troubled Families in council extracts: link, group into households, apply the "
    "programme's rules, prepare claims.\n\nStart with:  familymatch demo",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
)
fixtures_app = typer.Typer(
    help="The synthetic council used for demos and tests.", no_args_is_help=True
)
cohort_app = typer.Typer(help="Build, inspect and compare the cohort.", no_args_is_help=True)
link_app = typer.Typer(help="Inspect and measure the linkage.", no_args_is_help=True)
db_app = typer.Typer(help="The database: schema upgrades and the build lock.", no_args_is_help=True)
outcomes_app = typer.Typer(help="Outcome evidence from a later period.", no_args_is_help=True)
claims_app = typer.Typer(
    help="Payment-by-results claims: prepare, verify, submit, history.", no_args_is_help=True
)
app.add_typer(fixtures_app, name="fixtures")
app.add_typer(cohort_app, name="cohort")
app.add_typer(link_app, name="link")
app.add_typer(db_app, name="db")
app.add_typer(outcomes_app, name="outcomes")
app.add_typer(claims_app, name="claims")

ProjectOpt = Annotated[
    Path,
    typer.Option("--project", "-p", help="The project file.", show_default=True),
]


_COMMAND = "familymatch"  # the running command, for the audit log


def handles_errors(func: F) -> F:
    """Print a FamilyMatchError as one sentence on stderr and exit non-zero."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _COMMAND
        _COMMAND = func.__name__.removesuffix("_cmd").replace("_", " ")
        try:
            return func(*args, **kwargs)
        except FamilyMatchError as exc:
            err_console.print(f"[bold red]error:[/] {exc.message}", highlight=False)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console.print("[bold red]interrupted:[/] nothing was recorded for this command.")
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


@app.callback()
def _main(
    log_level: Annotated[
        str, typer.Option("--log-level", help="DEBUG, INFO, WARNING or ERROR (stderr).")
    ] = "WARNING",
) -> None:
    setup_logging(log_level)


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FamilyMatchError(
            f"{option}: '{value}' is not a date in the form YYYY-MM-DD."
        ) from None


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


# --------------------------------------------------------------------------- fixtures


@fixtures_app.command("generate")
@handles_errors
def fixtures_generate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder to write the council into.")],
    scale: Annotated[float, typer.Option(help="1.0 = a city of ~110,000 households.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed; same seed and scale, same files.")] = 42,
    profile: Annotated[
        str,
        typer.Option(
            help="A council profile: default, or one of fixtures/profiles/catalogue.py "
            "(harbourside, moorland, estuary, clayfield, fenwick): the same people and cohort written in that council's layouts."
        ),
    ] = "default",
) -> None:
    """Generate a synthetic council: messy extracts, ground truth and a ready project file.

    Example:  familymatch fixtures generate --scale 0.1 --seed 7 --profile harbourside --out w/c
    """
    from fixtures.generate import generate

    with console.status("generating the synthetic council"):
        summary = generate(out, scale=scale, seed=seed, profile=profile)
    console.print(f"wrote the synthetic council to {out} ({summary})")


# --------------------------------------------------------------------------- ingest


@app.command("ingest")
@handles_errors
def ingest(
    project: ProjectOpt = Path("familymatch.toml"),
    rejects: Annotated[
        Path | None, typer.Option("--rejects", help="Write rejected rows and reasons here (CSV).")
    ] = None,
) -> None:
    """Check the extracts: read every source, count rows accepted and rejected, list why.

    Nothing is linked or recorded. Example:  familymatch ingest -p work/demo/familymatch.toml
    """
    from rich.table import Table

    from familymatch.ingest import ingest_project, write_rejects
    from familymatch.project import load_project

    proj = load_project(project)
    with console.status("reading extracts") as status:
        result = ingest_project(proj, progress=lambda name: status.update(f"reading {name}"))
    from familymatch.store import open_store

    _audit(open_store(proj.database_url), None, [(st.path, st.sha256) for st in result.stats])
    t = Table(title="sources")
    for c in ("source", "kind", "rows read", "accepted", "rejected", "records"):
        t.add_column(c, justify="left" if c in ("source", "kind") else "right")
    for st in result.stats:
        accepted = st.rows_read - st.rows_rejected
        t.add_row(
            st.source,
            st.kind,
            f"{st.rows_read:,}",
            f"{accepted:,}",
            f"{st.rows_rejected:,}",
            f"{st.records:,}",
        )
    console.print(t)
    console.print(_columns_table(result.columns))
    if result.rejects.height:
        reasons = (
            result.rejects.group_by("source", "column", "reason").len().sort("source", "column")
        )
        for source, column, reason, n in reasons.iter_rows():
            console.print(f"  {source}: {n} row(s), column '{column}': {reason}", highlight=False)
        if rejects is not None:
            write_rejects(result.rejects, rejects)
            console.print(f"rejected rows written to {rejects}", highlight=False)


def _columns_table(columns: Any) -> Any:
    """Per mapped column: how many rows had a value and the share of those that parsed."""
    from rich.table import Table

    t = Table(title="mapped columns")
    for c in ("source", "column", "field", "filled", "parsed"):
        t.add_column(c, justify="left" if c in ("source", "column", "field") else "right")
    for r in columns.iter_rows(named=True):
        filled = f"{r['filled'] / r['rows']:.0%}" if r["rows"] else "-"
        parsed = "-" if r["parsed_share"] is None else f"{r['parsed_share']:.0%}"
        t.add_row(r["source"], r["column"], r["field"], filled, parsed)
    return t


sources_app = typer.Typer(help="Look at an extract before mapping it.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("inspect")
@handles_errors
def sources_inspect(
    file: Annotated[Path, typer.Argument(help="The extract (.csv, .xlsx, .parquet).")],
    sheet: Annotated[str | None, typer.Option("--sheet", help="xlsx: the sheet.")] = None,
    header_row: Annotated[int, typer.Option("--header-row", min=1, help="1-based.")] = 1,
    toml: Annotated[
        Path | None, typer.Option("--toml", help="Write the draft [[sources]] block here.")
    ] = None,
    no_examples: Annotated[
        bool, typer.Option("--no-examples", help="Leave out the example values.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Each column's fill rate, examples, likely canonical field and date format, and a draft
    [[sources]] block. The examples are personal data: shown on this terminal only.

    Example:  familymatch sources inspect extracts/claims.csv --toml draft.toml
    """
    from familymatch.ingest.inspect import draft_toml, inspect_file, write_draft

    found = inspect_file(file, sheet, header_row)
    draft = draft_toml(found, str(file))
    if toml is not None:
        write_draft(toml, draft)
    if as_json:
        columns = [c.as_dict(examples=not no_examples) for c in found.columns]
        _print_json(
            {
                "file": str(file),
                "sheet": found.sheet,
                "rows": found.rows,
                "kind": found.kind,
                "columns": columns,
                "draft": draft,
            }
        )
        return
    console.print(_inspect_table(found, not no_examples))
    console.print(f"draft written to {toml}" if toml else draft, highlight=False, markup=False)


def _inspect_table(found: Any, examples: bool) -> Any:
    from rich.table import Table

    t = Table(title=f"{found.path.name}: {found.rows:,} rows")
    for c in (
        "column",
        "filled",
        "likely field",
        "date format",
        *(["examples"] if examples else []),
    ):
        t.add_column(c, justify="right" if c == "filled" else "left")
    for g in found.columns:
        field = f"{g.field} ({g.reason})" if g.field else "-"
        fmt = f"{' + '.join(g.date.formats)} ({g.date.share:.0%})" if g.date else ""
        cells = [g.column, f"{g.fill:.0%}", field, fmt]
        t.add_row(*cells, *([" | ".join(g.examples)] if examples else []))
    return t


# --------------------------------------------------------------------------- cohort


def _project_store(project: Path) -> tuple[Any, Any]:
    from familymatch.project import load_project
    from familymatch.store import open_store

    proj = load_project(project)
    return proj, open_store(proj.database_url)


def _audit(store: Any, run_id: int | None, files: list[tuple[str, str]] | None = None) -> None:
    """Record in the audit log that the current command read or wrote personal data."""
    from familymatch.store import audit

    audit(store, _COMMAND, run_id, files or [])


def _run_or_latest(store: Any, run: int | None) -> int:
    """The run to read (the latest complete build by default); the read is audited."""
    from familymatch.store import latest_run

    if run is None:
        found = latest_run(store)
        if found is None:
            raise FamilyMatchError(
                f"no complete build in {store.label}; run `familymatch cohort build` first."
            )
        run = int(found)
    _audit(store, run)
    return run


def print_summary(summary: dict[str, Any], seconds: dict[str, float] | None = None) -> None:
    from rich.table import Table

    cohort = summary["cohort"]
    table = Table(title=f"Cohort (run {summary['run_id']})", show_lines=False)
    table.add_column("criteria met")
    table.add_column("households", justify="right")
    for combo, n in cohort["by_combination"].items():
        table.add_row(combo, f"{n:,}")
    table.add_row("[bold]total[/]", f"[bold]{cohort['total']:,}[/]")
    console.print(f"households assessed: {summary['households_assessed']:,}")
    console.print(table)
    addresses = summary.get("addresses")
    if addresses:
        share = addresses["gazetteer_share"]
        console.print(
            f"address entities: {addresses['entities']:,}"
            + ("" if share is None else f"; records resolved to the gazetteer: {100 * share:.1f}%"),
            highlight=False,
        )
    if seconds:
        console.print(
            "stages: " + ", ".join(f"{k} {v:.1f} s" for k, v in seconds.items()), highlight=False
        )


def _print_ingest(result: Any) -> None:
    from rich.table import Table

    t = Table(title="sources")
    for c in ("source", "rows read", "accepted", "rejected", "records"):
        t.add_column(c, justify="left" if c == "source" else "right")
    for st in result.linked.ingest.stats:
        t.add_row(
            st.source,
            f"{st.rows_read:,}",
            f"{st.rows_read - st.rows_rejected:,}",
            f"{st.rows_rejected:,}",
            f"{st.records:,}",
        )
    console.print(t)
    if result.rejects_file is not None:
        console.print(f"rejected rows and reasons: {result.rejects_file}", highlight=False)


@cohort_app.command("build")
@handles_errors
def cohort_build(
    project: ProjectOpt = Path("familymatch.toml"),
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Reference date YYYY-MM-DD (default: the project's)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    model_from_run: Annotated[
        int | None,
        typer.Option(
            "--model-from-run", help="Reuse the linkage model fitted in this earlier run."
        ),
    ] = None,
) -> None:
    """Ingest, link, group into households and apply the rule set; record the run.

    Example:  familymatch cohort build -p work/demo/familymatch.toml --as-of 2012-06-01 --json
    Example:  familymatch cohort build -p work/demo/familymatch.toml --model-from-run 1
    """
    from rules.build import build_cohort

    reference = _parse_date(as_of, "--as-of")
    if as_json:
        result = build_cohort(project, reference, model_from_run=model_from_run)
        _print_json(result.summary)
        return
    with console.status("building the cohort") as status:
        result = build_cohort(
            project,
            reference,
            progress=lambda st: status.update(f"building: {st}"),
            model_from_run=model_from_run,
        )
    _print_ingest(result)
    print_summary(result.summary, result.seconds)
    for msg in result.evaluation.unknown_codes:
        console.print(f"[yellow]note:[/] {msg}", highlight=False)


@cohort_app.command("show")
@handles_errors
def cohort_show(
    household: Annotated[str, typer.Argument(help="A household id from the build.")],
    project: ProjectOpt = Path("familymatch.toml"),
    run: Annotated[int | None, typer.Option(help="Run id (default: the latest build).")] = None,
) -> None:
    """One family: its members, the criteria it meets, and the rows that prove each.

    Example:  familymatch cohort show H3F2A9C01B7 -p work/demo/familymatch.toml
    """
    import polars as pl
    from rich.table import Table

    from familymatch.store import read_table
    from familymatch.store import schema as s

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    members = read_table(store, s.membership, run_id, household_id=household)
    if members.height == 0:
        raise FamilyMatchError(f"household {household} is not in run {run_id}.")
    records = read_table(store, s.records, run_id).join(members, on="record_id")
    cohort = read_table(store, s.cohort, run_id, household_id=household)
    results = read_table(store, s.indicator_results, run_id, household_id=household)
    evidence = read_table(store, s.evidence, run_id, household_id=household)
    row = cohort.row(0, named=True)
    console.print(
        f"[bold]{household}[/] (run {run_id}): criteria met: {row['combination'] or 'none'}; "
        f"in cohort: {'yes' if row['in_cohort'] else 'no'}"
    )
    people = (
        records.group_by("person_id")
        .agg(
            pl.col("forename").drop_nulls().mode().first(),
            pl.col("surname").drop_nulls().mode().first(),
            pl.col("dob").drop_nulls().mode().first(),
            pl.col("source").unique().sort().str.join(", ").alias("sources"),
        )
        .sort("dob", nulls_last=True)
    )
    t = Table(title="members")
    for c in ("person", "forename", "surname", "date of birth", "sources"):
        t.add_column(c)
    for p in people.iter_rows(named=True):
        t.add_row(
            p["person_id"],
            p["forename"] or "",
            p["surname"] or "",
            str(p["dob"] or ""),
            p["sources"],
        )
    console.print(t)
    t = Table(title="address entities (the ways records wrote them, and why they were joined)")
    for c in ("address", "written", "records", "joined by"):
        t.add_column(c)
    for a in _household_addresses(store, run_id, members):
        for i, v in enumerate(a["variants"]):
            first = f"{a['address_id']}: {a['canonical']}, {a['postcode'] or ''}" if i == 0 else ""
            t.add_row(first, v["written"], str(v["records"]), v["why"])
    console.print(t)
    t = Table(title="indicators")
    for c in ("criterion", "indicator", "met", "value", "note"):
        t.add_column(c)
    for r in results.iter_rows(named=True):
        t.add_row(
            r["criterion"],
            r["indicator"],
            "yes" if r["met"] else "no",
            f"{r['value']:g}" if r["value"] is not None else "",
            r["note"] or "",
        )
    console.print(t)
    t = Table(title="evidence")
    for c in ("criterion", "indicator", "source", "row", "person", "date", "value"):
        t.add_column(c)
    for r in evidence.iter_rows(named=True):
        t.add_row(
            r["criterion"],
            r["indicator"],
            r["source"],
            str(r["row"]),
            r["person_id"],
            str(r["date"] or ""),
            r["value"] or "",
        )
    console.print(t)


@cohort_app.command("report")
@handles_errors
def cohort_report(
    run: Annotated[int | None, typer.Argument(help="Run id (default: the latest build).")] = None,
    project: ProjectOpt = Path("familymatch.toml"),
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Workbook to write (default: beside the project)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """The cohort profile of a recorded build, as a workbook with a chart and on the terminal:
    criteria and combinations, local lists already in the cohort, areas, schools, children's ages.

    Example:  familymatch cohort report 3 -p work/demo/familymatch.toml --out profile.xlsx
    """
    from rich.table import Table

    from familymatch.store import read_table
    from familymatch.store import schema as s
    from familymatch.store.runs import run_info
    from rules.report import load_lookup, profile, write_profile_workbook

    proj, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    info = run_info(store, run_id)
    summary = json.loads(info["summary"])
    if as_json:
        _print_json(summary)
        return
    prof = profile(
        run_id,
        info["reference_date"],
        read_table(store, s.cohort, run_id),
        read_table(store, s.membership, run_id),
        read_table(store, s.records, run_id),
        read_table(store, s.households, run_id),
        load_lookup(proj.postcode_lookup),
    )
    console.print(
        f"run {run_id}: {info['project_name']}, rule set {info['rule_set']}, "
        f"reference date {info['reference_date']}"
    )
    print_summary(summary)
    for title, frame in (
        ("two-criteria combinations", prof.combinations.drop_nulls("share_of_two_pct")),
        ("local lists already in the cohort", prof.cross_reference),
        ("children in the household", prof.ages),
    ):
        t = Table(title=title)
        for c in frame.columns:
            t.add_column(c)
        for row in frame.iter_rows():
            t.add_row(*[str(v) for v in row])
        console.print(t)
    target = out or proj.folder / "reports" / f"cohort-profile-run-{run_id}.xlsx"
    if not target.parent.exists():
        from familymatch.outputs import secure_mkdir

        secure_mkdir(target.parent)
    write_profile_workbook(prof, target, info["project_name"] or "familymatch")
    console.print(f"wrote {target}", highlight=False)


@cohort_app.command("diff")
@handles_errors
def cohort_diff_cmd(
    run_a: Annotated[
        int | None, typer.Argument(help="The earlier run (default: the second newest).")
    ] = None,
    run_b: Annotated[
        int | None, typer.Argument(help="The later run (default: the newest).")
    ] = None,
    project: ProjectOpt = Path("familymatch.toml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Families that joined, left or changed criteria between two builds (by family reference).

    Example:  familymatch cohort diff 1 2 -p work/demo/familymatch.toml
    """
    from rich.table import Table

    from familymatch.store.families import cohort_diff, diff_latest

    _, store = _project_store(project)
    if (run_a is None) != (run_b is None):
        raise FamilyMatchError("give both runs, or neither for the two newest builds.")
    d = diff_latest(store) if run_a is None or run_b is None else cohort_diff(store, run_a, run_b)
    _audit(store, d.run_b)
    if as_json:
        _print_json(
            {
                **d.counts(),
                "joined": d.joined.to_dicts(),
                "left": d.left.to_dicts(),
                "changed": d.changed.to_dicts(),
            }
        )
        return
    c = d.counts()
    console.print(
        f"run {c['run_a']} -> run {c['run_b']}: {c['joined']} joined, {c['left']} left, "
        f"{c['changed']} changed criteria, {c['unchanged']} unchanged",
        highlight=False,
    )
    for title, frame in (("joined", d.joined), ("left", d.left), ("changed", d.changed)):
        if frame.height:
            t = Table(title=title)
            for col in frame.columns:
                t.add_column(col)
            for row in frame.iter_rows():
                t.add_row(*[str(v) for v in row])
            console.print(t)


# --------------------------------------------------------------------------- db


@db_app.command("upgrade")
@handles_errors
def db_upgrade(project: ProjectOpt = Path("familymatch.toml")) -> None:
    """Bring the project's database to the current schema (migrations; data kept).

    Example:  familymatch db upgrade -p work/demo/familymatch.toml
    """
    from familymatch.project import load_project
    from familymatch.store import audit, safe_url
    from familymatch.store.engine import make_engine
    from familymatch.store.migrations import current_revision, upgrade

    proj = load_project(project)
    engine = make_engine(proj.database_url)
    before = current_revision(engine)
    after = upgrade(proj.database_url)
    audit(engine, f"db upgrade {before} -> {after}", None, [])
    console.print(
        f"{safe_url(proj.database_url)}: schema {before or 'none'} -> {after}", highlight=False
    )


@db_app.command("unlock")
@handles_errors
def db_unlock(project: ProjectOpt = Path("familymatch.toml")) -> None:
    """Remove a build lock left by a build that died on another machine (its run is failed).

    Example:  familymatch db unlock -p work/demo/familymatch.toml
    """
    from familymatch.store.runs import break_lock

    _, store = _project_store(project)
    holder = break_lock(store)
    if holder is None:
        console.print("no build lock was held.")
    else:
        console.print(
            f"removed the lock of run {holder.run_id} (pid {holder.pid} on {holder.host}).",
            highlight=False,
        )


# --------------------------------------------------------------------------- link


@link_app.command("evaluate")
@handles_errors
def link_evaluate(
    truth: Annotated[
        Path,
        typer.Option(
            "--truth",
            help="Folder with records.parquet (record_id, person_id, household_id; address_id "
            "for address scores).",
        ),
    ],
    project: ProjectOpt = Path("familymatch.toml"),
    run: Annotated[int | None, typer.Option(help="Run id (default: the latest build).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    by_group: Annotated[
        bool, typer.Option("--by-group", help="Also show link rates by source, sex and age band.")
    ] = False,
) -> None:
    """Precision, recall and F1 of person links, household membership and address entities
    against a truth.

    Example:  familymatch link evaluate --truth work/demo/truth -p work/demo/familymatch.toml --by-group
    """
    import polars as pl

    from familymatch.link.evaluate import evaluate_links
    from familymatch.store import read_table
    from familymatch.store import schema as s

    path = truth / "records.parquet" if truth.is_dir() else truth
    if not path.is_file():
        raise FamilyMatchError(f"--truth {truth}: no records.parquet there.")
    try:
        truth_frame = pl.read_parquet(path)
        truth_frame = truth_frame.select(
            "record_id",
            "person_id",
            "household_id",
            *(["address_id"] if "address_id" in truth_frame.columns else []),
        )
    except Exception:
        raise FamilyMatchError(
            f"--truth {path}: needs columns record_id, person_id, household_id."
        ) from None
    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    scores: dict[str, Any] = dict(
        evaluate_links(
            read_table(store, s.membership, run_id),
            truth_frame,
            read_table(store, s.record_addresses, run_id),
        )
    )
    if by_group:
        from familymatch.link.evaluate import link_rates
        from familymatch.standardise import standardise
        from familymatch.store.runs import run_info

        year = run_info(store, run_id)["reference_date"].year
        std = standardise(read_table(store, s.records, run_id))
        rates = link_rates(std, read_table(store, s.persons, run_id), year)
        scores["link_rates"] = rates.to_dicts()
    if as_json:
        _print_json(scores)
        return
    for level in ("persons", "households", "addresses"):
        if level not in scores:
            continue
        m = scores[level]
        console.print(
            f"{level:<10} precision {m['precision']:.4f}  recall {m['recall']:.4f}  F1 {m['f1']:.4f}"
            f"  ({m['records']:,} records)",
            highlight=False,
        )
    if by_group:
        from rich.table import Table

        t = Table(title="share of records linked to another record")
        for c in ("group", "value", "records", "linked"):
            t.add_column(c)
        for r in scores["link_rates"]:
            t.add_row(
                r["group"], str(r["value"]), f"{r['records']:,}", f"{100 * r['linked_share']:.1f}%"
            )
        console.print(t)


def _household_addresses(store: Any, run_id: int, members: Any) -> list[dict[str, Any]]:
    """The address entities the household's records resolved to, with their variants."""
    import polars as pl

    from familymatch.addresses.explain import describe_addresses
    from familymatch.store import read_table
    from familymatch.store import schema as s

    record_addresses = read_table(store, s.record_addresses, run_id)
    ids = (
        record_addresses.join(members.select("record_id"), on="record_id")
        .drop_nulls("address_id")["address_id"]
        .to_list()
    )
    same = record_addresses.filter(pl.col("address_id").is_in(ids))
    records = read_table(store, s.records, run_id).join(same.select("record_id"), on="record_id")
    return describe_addresses(ids, same, read_table(store, s.addresses, run_id), records)


@link_app.command("explain")
@handles_errors
def link_explain(
    record_a: Annotated[
        str | None, typer.Argument(help="A record id, e.g. benefits:12:claimant")
    ] = None,
    record_b: Annotated[
        str | None, typer.Argument(help="Another record id, e.g. school_census:7")
    ] = None,
    household: Annotated[
        str | None, typer.Option("--household", help="Explain a household instead.")
    ] = None,
    project: ProjectOpt = Path("familymatch.toml"),
    run: Annotated[int | None, typer.Option(help="Run id (default: the latest build).")] = None,
) -> None:
    """Why two records were (or were not) linked, or what made a household.

    For two records: each field's comparison level and match weight, the total, the probability
    and the decision. For --household: its people, the addresses and claims that joined them,
    and the record links inside each person.

    Example:  familymatch link explain benefits:12:claimant school_census:40 -p work/demo/familymatch.toml
    Example:  familymatch link explain --household H3F2A9C01B7 -p work/demo/familymatch.toml
    """
    from familymatch.link.explain import explain_household, explain_pair
    from familymatch.link.model import FSModel
    from familymatch.store import read_table
    from familymatch.store import schema as s

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    pairs = read_table(store, s.link_pairs, run_id)
    if household is not None:
        members = read_table(store, s.membership, run_id, household_id=household)
        _print_json(
            explain_household(
                household,
                members,
                read_table(store, s.household_links, run_id, household_id=household),
                pairs,
                _household_addresses(store, run_id, members),
            )
        )
        return
    if record_a is None or record_b is None:
        raise FamilyMatchError("give two record ids, or --household HOUSEHOLD.")
    model = FSModel.from_json(read_table(store, s.link_models, run_id)["model_json"][0])
    recs = read_table(store, s.records, run_id)
    persons = read_table(store, s.persons, run_id)
    _print_json(explain_pair(model, recs, persons, pairs, record_a, record_b))


@link_app.command("export")
@handles_errors
def link_export(
    out: Annotated[Path, typer.Option("--out", "-o", help="CSV or Parquet file to write.")],
    run: Annotated[int | None, typer.Argument(help="Run id (default: the latest build).")] = None,
    project: ProjectOpt = Path("familymatch.toml"),
) -> None:
    """Per source row: its person id and household id (CSV or Parquet, owner-only).

    Example:  familymatch link export 3 --out links.csv -p work/demo/familymatch.toml
    """
    from familymatch.outputs import write_owner_only
    from familymatch.store import read_table
    from familymatch.store import schema as s

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    recs = read_table(store, s.records, run_id).select("record_id", "source", "row", "role")
    frame = recs.join(read_table(store, s.membership, run_id), on="record_id").sort(
        "source", "row", "role"
    )
    if out.suffix.lower() == ".parquet":
        write_owner_only(out, lambda tmp: frame.write_parquet(tmp))
    elif out.suffix.lower() == ".csv":
        write_owner_only(out, lambda tmp: frame.write_csv(tmp))
    else:
        raise FamilyMatchError(f"--out {out}: use a .csv or .parquet file name.")
    console.print(f"wrote {frame.height:,} rows to {out}")


@app.command("audit-log")
@handles_errors
def audit_log(project: ProjectOpt = Path("familymatch.toml")) -> None:
    """Who ran which command on which run and files.

    Example:  familymatch audit-log -p work/demo/familymatch.toml
    """
    from rich.table import Table
    from sqlalchemy import select

    from familymatch.store import schema as s

    _, store = _project_store(project)
    t = Table()
    for c in ("when", "user", "command", "run", "files"):
        t.add_column(c)
    with store.engine.connect() as conn:
        for r in conn.execute(select(s.audit_log).order_by(s.audit_log.c.id)):
            t.add_row(
                str(r.at)[:19],
                r.os_user or "",
                r.command or "",
                str(r.run_id or ""),
                str(len(json.loads(r.files or "[]"))),
            )
    console.print(t)


# --------------------------------------------------------------------------- attachment


@cohort_app.command("allocation")
@handles_errors
def cohort_allocation(
    out: Annotated[Path, typer.Option("--out", help="The template to write (.xlsx or .csv).")],
    project: ProjectOpt = Path("familymatch.toml"),
    run: Annotated[int | None, typer.Option(help="Build run (default: the latest).")] = None,
) -> None:
    """Write the allocation template: one row per cohort family, with blank key worker, team
    and attachment date for the coordinator to fill in and give back to `familymatch attach`.

    Example:  familymatch cohort allocation --out allocation.xlsx -p work/demo/familymatch.toml
    """
    from claims.attach import write_allocation_template
    from claims.records import cohort_families

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    cohort = cohort_families(store, run_id)
    write_allocation_template(cohort, out)
    _audit(store, run_id, [(str(out), "written")])
    console.print(f"allocation template for {cohort.height:,} families: {out}", highlight=False)


@app.command("attach")
@handles_errors
def attach(
    file: Annotated[Path, typer.Argument(help="The allocation returned (.xlsx or .csv).")],
    project: ProjectOpt = Path("familymatch.toml"),
    run: Annotated[int | None, typer.Option(help="Build run (default: the latest).")] = None,
    sheet: Annotated[str, typer.Option(help="The sheet of an .xlsx file.")] = "Allocation",
    today: Annotated[
        str | None, typer.Option(help="Treat this date as today (YYYY-MM-DD), for replays.")
    ] = None,
) -> None:
    """Record the families attached: family reference, key worker, team, attachment date.

    Every row is checked first (unknown family, not in the cohort, date before the build or in
    the future, family already attached, listed twice); any problem and nothing is recorded.
    Rows left blank are families not allocated yet.

    Example:  familymatch attach allocation.xlsx -p work/demo/familymatch.toml
    """
    from claims.attach import check_allocation, read_allocation
    from claims.records import (
        cohort_families,
        family_refs,
        read_attachments,
        record_attachments,
    )
    from familymatch.ingest import file_sha256
    from familymatch.store import run_info

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    allocation = read_allocation(file, sheet)
    info = run_info(store, run_id)
    check = check_allocation(
        allocation,
        cohort_families(store, run_id),
        family_refs(store, run_id),
        read_attachments(store).select("family_ref", "attached_on"),
        info["reference_date"],
        _parse_date(today, "--today") or date.today(),
        file.name,
    )
    if check.problems:
        for problem in check.problems[:50]:
            err_console.print(f"  {problem}", highlight=False)
        more = len(check.problems) - 50
        raise FamilyMatchError(
            f"{file.name}: {len(check.problems)} problem(s) found"
            + (f" ({more} more not shown)" if more > 0 else "")
            + "; nothing was recorded."
        )
    if check.rows.height == 0:
        raise FamilyMatchError(
            f"{file.name}: no family has a key worker and date; nothing to record."
        )
    attach_run = record_attachments(store, run_id, check.rows, str(file))
    _audit(store, attach_run, [(str(file), file_sha256(file))])
    console.print(
        f"attached {check.rows.height:,} families (run {attach_run}); "
        f"{check.skipped:,} rows left blank",
        highlight=False,
    )


# --------------------------------------------------------------------------- outcomes and claims


@outcomes_app.command("import")
@handles_errors
def outcomes_import(
    later: Annotated[Path, typer.Argument(help="The later period's project file.")],
    project: ProjectOpt = Path("familymatch.toml"),
    build: Annotated[
        int | None, typer.Option(help="Build run the families came from (default: theirs).")
    ] = None,
) -> None:
    """Link a later period's extracts onto the attached families and record the evidence.

    The later project file lists the later extracts (same layouts, plus an employment source);
    its records are linked with the build's records using the build's fitted model.

    Example:  familymatch outcomes import work/demo/familymatch_period2.toml -p work/demo/familymatch.toml
    """
    from rich.table import Table

    from claims.outcomes import import_outcomes

    _, store = _project_store(project)
    with console.status("importing outcomes") as status:
        result = import_outcomes(
            later, store, build, progress=lambda st: status.update(f"outcomes: {st}")
        )
    t = Table(title=f"outcomes run {result.run_id} (onto build {result.build_run})")
    for c in ("source", "records", "a known person", "a newcomer", "in an attached family"):
        t.add_column(c, justify="left" if c == "source" else "right")
    for r in result.by_source.iter_rows(named=True):
        t.add_row(
            r["source"],
            f"{r['records']:,}",
            f"{r['matched']:,}",
            f"{r['newcomers']:,}",
            f"{r['attached_families']:,}",
        )
    console.print(t)
    console.print(
        f"{result.families_with_evidence:,} attached families have later evidence; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in result.seconds.items()),
        highlight=False,
    )


def _print_claim(summary: dict[str, Any]) -> None:
    from decimal import Decimal

    from rich.table import Table

    t = Table(title=f"claim: {summary['claimed']:,} of {summary['attached']:,} attached families")
    for c in ("programme year", "result", "families", "amount"):
        t.add_column(c, justify="left" if c in ("programme year", "result") else "right")
    for r in summary["by_year_and_result"]:
        t.add_row(
            r["programme_year"], r["result"], f"{r['families']:,}", f"£{Decimal(r['amount']):,}"
        )
    t.add_row(
        "[bold]total[/]",
        "",
        f"[bold]{summary['claimed']:,}[/]",
        f"[bold]£{Decimal(summary['amount']):,}[/]",
    )
    console.print(t)


@claims_app.command("prepare")
@handles_errors
def claims_prepare(
    as_of: Annotated[str, typer.Option("--as-of", help="The claim date YYYY-MM-DD.")],
    project: ProjectOpt = Path("familymatch.toml"),
    framework: Annotated[
        str, typer.Option(help="A framework in claims/ (phase1, phase2) or a TOML path.")
    ] = "phase1",
    out: Annotated[
        Path | None,
        typer.Option("--out", help="The workbook (default: claims/ beside the project)."),
    ] = None,
    build: Annotated[
        int | None, typer.Option(help="Build run (default: the attachments').")
    ] = None,
    sample: Annotated[
        str | None, typer.Option(help="Audit sample share, e.g. 0.2 (default: the framework's).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Decide, per attached family, which result is claimable now; record the claim and write
    the workbook for internal audit (summary, families, evidence, not claimed, audit sample).

    Example:  familymatch claims prepare --framework phase1 --as-of 2013-06-01 -p work/demo/familymatch.toml
    """
    from decimal import Decimal, InvalidOperation

    from claims.framework import load_framework
    from claims.prepare import prepare_claim, workbook_name
    from claims.workbook import write_claim_workbook

    proj, store = _project_store(project)
    fw = load_framework(framework, base=Path.cwd())
    day = _parse_date(as_of, "--as-of")
    assert day is not None
    share = None
    if sample is not None:
        try:
            share = Decimal(sample)
        except InvalidOperation:
            raise FamilyMatchError(f"--sample: '{sample}' is not a number.") from None
        if not 0 < share <= 1:
            raise FamilyMatchError(f"--sample: {sample} must be above 0 and at most 1.")
    claim = prepare_claim(store, fw, day, build, share, proj.terms)
    path = out or workbook_name(proj.folder / "claims", claim.run_id)
    write_claim_workbook(path, claim.summary, claim.claims, claim.lines, claim.run_id, fw.title)
    _audit(store, claim.run_id, [(str(path), "written")])
    if as_json:
        _print_json({"run_id": claim.run_id, "workbook": str(path), **claim.summary})
        return
    _print_claim(claim.summary)
    console.print(f"claim run {claim.run_id}; workbook: {path}", highlight=False)


def _print_verification(v: Any) -> None:
    for family, what in v.discrepancies[:100]:
        console.print(f"  [red]✗[/] {family}: {what}", highlight=False)
    if len(v.discrepancies) > 100:
        console.print(f"  ... and {len(v.discrepancies) - 100} more", highlight=False)
    console.print(
        f"audit sample: {v.sampled} families, {v.checked} checked, {v.agreed} agreed, "
        f"{v.disagreed} not agreed",
        highlight=False,
    )


@claims_app.command("verify")
@handles_errors
def claims_verify(
    workbook: Annotated[Path, typer.Argument(help="The claim workbook.")],
    project: ProjectOpt = Path("familymatch.toml"),
) -> None:
    """Re-derive every claim from the recorded evidence and compare with the workbook, cell by
    cell; exit 1 on any discrepancy.

    Example:  familymatch claims verify work/demo/claims/claim-run-4.xlsx -p work/demo/familymatch.toml
    """
    from claims.verify import verify_claim
    from claims.workbook import read_claim_workbook
    from familymatch.ingest import file_sha256

    _, store = _project_store(project)
    wb = read_claim_workbook(workbook)
    v = verify_claim(store, wb)
    _audit(store, wb.claim_run, [(str(workbook), file_sha256(workbook))])
    _print_verification(v)
    if not v.ok:
        err_console.print(
            f"[bold red]{len(v.discrepancies)} discrepancies[/] in claim run {v.claim_run}.",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print(
        f"[green]claim run {v.claim_run} verified:[/] {v.families:,} families, £{v.amount}; "
        "every cell matches the recorded evidence.",
        highlight=False,
    )


@claims_app.command("submit")
@handles_errors
def claims_submit(
    workbook: Annotated[Path, typer.Argument(help="The verified, signed-off claim workbook.")],
    project: ProjectOpt = Path("familymatch.toml"),
    on: Annotated[
        str | None, typer.Option("--on", help="Submission date (default: today).")
    ] = None,
) -> None:
    """Record a verified and signed-off claim as submitted: its families cannot be claimed for
    the same result again.

    Example:  familymatch claims submit work/demo/claims/claim-run-4.xlsx -p work/demo/familymatch.toml
    """
    from decimal import Decimal

    import polars as pl

    from claims.records import record_submission, submitted_claim_runs, to_pence
    from claims.verify import verify_claim
    from claims.workbook import read_claim_workbook
    from familymatch.ingest import file_sha256

    _, store = _project_store(project)
    wb = read_claim_workbook(workbook)
    done = submitted_claim_runs(store).filter(pl.col("claim_run_id") == wb.claim_run)
    if done.height:
        raise FamilyMatchError(
            f"claim run {wb.claim_run} was already submitted on {done['submitted_on'][0]}."
        )
    v = verify_claim(store, wb)
    if not v.ok:
        _print_verification(v)
        raise FamilyMatchError(
            f"{workbook.name}: {len(v.discrepancies)} discrepancies; run `familymatch claims "
            "verify` and resolve them before submitting."
        )
    if not v.signed_off:
        raise FamilyMatchError(
            f"{workbook.name}: internal audit has agreed {v.agreed} of the {v.sampled} sampled "
            "families; every sampled family must be checked and agreed before submission."
        )
    sha = file_sha256(workbook)
    when = _parse_date(on, "--on") or date.today()
    run_id = record_submission(
        store, wb.claim_run, sha, when, v.families, to_pence(Decimal(v.amount))
    )
    _audit(store, run_id, [(str(workbook), sha)])
    console.print(
        f"claim run {wb.claim_run} submitted on {when} ({v.families:,} families, £{v.amount}); "
        f"recorded as run {run_id}.",
        highlight=False,
    )


@claims_app.command("history")
@handles_errors
def claims_history(
    family: Annotated[str, typer.Argument(help="A family reference, e.g. F000123.")],
    project: ProjectOpt = Path("familymatch.toml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the history as JSON.")] = False,
) -> None:
    """What was claimed for a family, when, and whether it was submitted.

    Example:  familymatch claims history F000123 -p work/demo/familymatch.toml
    """
    from rich.table import Table

    from claims.records import family_history, from_pence

    _, store = _project_store(project)
    rows = family_history(store, family.upper())
    _audit(store, None)
    if rows.height == 0:
        raise FamilyMatchError(f"family {family.upper()}: no claim has considered this family.")
    if as_json:
        _print_json(
            [{**r, "amount": str(from_pence(r.pop("amount_pence")))} for r in rows.to_dicts()]
        )
        return
    t = Table(title=f"claims for {family.upper()}")
    for c in ("claim run", "as of", "decision", "result", "year", "amount", "submitted", "reason"):
        t.add_column(c)
    for r in rows.iter_rows(named=True):
        t.add_row(
            str(r["claim_run"]),
            str(r["as_of"]),
            r["decision"],
            r["result"] or "",
            r["programme_year"] or "",
            f"£{from_pence(r['amount_pence']):,}" if r["result"] else "",
            str(r["submitted_on"] or ""),
            r["reason"] or "",
        )
    console.print(t)


# --------------------------------------------------------------------------- forecast


def _forecast(
    store: Any,
    folder: Path,
    framework: str,
    assumptions: Path | None = None,
    scenario: str | None = None,
    attachments_from: str = "plan",
    run: int | None = None,
) -> tuple[Any, str]:
    """The forecast from the store's attachments and submitted claims; and the scenario to
    print (``scenario``, else central). With ``scenario`` only that one is forecast. With a
    build ``run``, a note sets its cohort beside the plan."""
    from claims.forecast import build_forecast, load_assumptions
    from claims.framework import load_framework
    from claims.records import read_attachments, read_submitted_claims

    fw = load_framework(framework, folder)
    a = load_assumptions(assumptions, fw)
    main = a.scenario(scenario).name if scenario is not None else a.default_scenario()
    fc = build_forecast(
        fw,
        a,
        [main] if scenario is not None else None,
        read_attachments(store),
        read_submitted_claims(store),
        attachments_from,
    )
    if run is not None:
        from claims.records import cohort_families
        from familymatch.store import run_info

        info = run_info(store, run)
        if info["kind"] != "build":
            raise FamilyMatchError(f"--run {run}: run {run} is a {info['kind']} run, not a build.")
        fc.notes.append(
            f"build run {run} found {cohort_families(store, run).height:,} families in the "
            f"cohort; {fc.assumptions.planned_total:,} attachments are planned "
            f"({fc.assumptions.path.name}), {fc.funded:,} funded ({fc.framework.path.name})."
        )
    return fc, main


def _money(value: Any) -> str:
    return "" if value is None else f"£{value:,.2f}"


def _forecast_headline(fc: Any, main: str) -> list[str]:
    from claims.forecast import headline

    h = headline(fc, main)
    others = [f"{n} {_money(sf.total)}" for n, sf in fc.scenarios.items() if n != main]
    lines = [
        f"{main} forecast {_money(h['total'])} of the {_money(h['maximum'])} maximum "
        f"({h['share_of_maximum_pct']}%) for {h['funded_families']:,} funded families: "
        f"attachment fees {_money(h['attachment_fees'])}, results {_money(h['results'])}"
        + (f"; {', '.join(others)}" if others else ""),
        "by financial year: " + ", ".join(f"{fy} {_money(v)}" for fy, v in h["by_year"].items()),
    ]
    if h["results_not_paid"]:
        lines.append(
            f"{_money(h['results_not_paid'])} of {main} results fall due after the last payment "
            f"day {h['last_payment']:%d/%m/%Y} and are not paid"
        )
    if "actual_to_date" in h:
        lines.append(
            f"recorded to {h['actuals_to']:%d/%m/%Y}: {_money(h['actual_to_date'])} "
            "(attachment fees earned and results claimed)"
        )
    return lines


@app.command("forecast")
@handles_errors
def forecast_cmd(
    project: ProjectOpt = Path("familymatch.toml"),
    framework: Annotated[
        str, typer.Option(help="Payment framework: a name in claims/ or a .toml path.")
    ] = "phase1",
    scenario: Annotated[
        str | None,
        typer.Option(help="low, central or high (default: all in the workbook, central printed)."),
    ] = None,
    run: Annotated[
        int | None, typer.Option(help="A build run, to set its cohort beside the plan.")
    ] = None,
    attachments: Annotated[
        str,
        typer.Option(
            help="plan: the planned attachments; recorded: the families recorded so far, then "
            "the rest of the plan."
        ),
    ] = "plan",
    assumptions: Annotated[
        Path | None,
        typer.Option(help="Assumptions file (default: claims/assumptions.toml)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Workbook to write (default: reports/ beside the project)."
        ),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print JSON (the workbook only with --out).")
    ] = False,
) -> None:
    """Attachment fees and results payments by financial year and quarter, low / central /
    high, against the framework's maximum and beside the recorded attachments and submitted
    claims; a workbook with charts and every assumption.

    Example:  familymatch forecast -p work/demo/familymatch.toml --framework phase1 --out forecast.xlsx
    """
    from rich.table import Table

    from claims.forecast_workbook import write_forecast_workbook

    if out is not None and out.suffix.lower() != ".xlsx":
        raise FamilyMatchError(f"--out {out}: use a .xlsx file name.")
    proj, store = _project_store(project)
    _audit(store, run)
    fc, main = _forecast(store, proj.folder, framework, assumptions, scenario, attachments, run)
    target = out
    if target is None and not as_json:
        target = proj.folder / "reports" / f"forecast-{fc.framework.name}.xlsx"
    if target is not None:
        if not target.parent.exists():
            from familymatch.outputs import secure_mkdir

            secure_mkdir(target.parent)
        write_forecast_workbook(fc, target, proj.name or "familymatch", main)
    if as_json:
        from claims.forecast import headline

        _print_json(
            {
                "framework": fc.framework.name,
                "assumptions": str(fc.assumptions.path),
                "attachments_from": fc.attachments_from,
                "funded_families": fc.funded,
                "maximum": fc.maximum,
                "year2_fees": None if fc.year2 is None else vars(fc.year2),
                "scenarios": {
                    n: {
                        "headline": headline(fc, n),
                        "by_year": sf.years.to_dicts(),
                        "by_quarter": sf.quarters.to_dicts(),
                    }
                    for n, sf in fc.scenarios.items()
                },
                "actuals": None
                if fc.actual_quarters is None
                else {
                    "to": fc.actuals_to,
                    "by_year": fc.actual_years.to_dicts(),
                    "by_quarter": fc.actual_quarters.to_dicts(),
                    "compared_with": main,
                    "comparison_by_year": fc.comparison(main, "year").to_dicts(),
                },
                "notes": fc.notes,
                "workbook": None if target is None else str(target),
            }
        )
        return
    from rich import box

    def pounds(value: Any) -> str:
        return "" if value is None else f"{value.quantize(1, rounding='ROUND_HALF_UP'):,}"

    sf = fc.scenarios[main]
    names = list(fc.framework.results)
    t = Table(
        title=f"{fc.framework.name} forecast, {main} scenario (£, whole pounds)",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    for c in ("year", "families", "fees", *names, "total", "cumulative"):
        t.add_column(c, justify="left" if c == "year" else "right")
    for r in sf.years.to_dicts():
        t.add_row(
            r["financial_year"],
            f"{r['families']:,}",
            pounds(r["attachment_fees"]),
            *[pounds(r[n]) for n in names],
            pounds(r["total"]),
            pounds(r["cumulative"]),
        )
    console.print(t)
    compare = fc.comparison(main, "year")
    if compare is not None:
        t = Table(
            title=f"recorded to {fc.actuals_to:%d/%m/%Y} beside the {main} forecast (£)",
            box=box.SIMPLE_HEAD,
            pad_edge=False,
            collapse_padding=True,
        )
        for c in ("year", "families", "fees", "results", "total", "forecast", "variance"):
            t.add_column(c, justify="left" if c == "year" else "right")
        for r in compare.to_dicts():
            t.add_row(
                r["financial_year"],
                f"{r['families_actual'] or 0:,} / {r['families_forecast']:,}",
                pounds(r["attachment_fees_actual"]),
                pounds(r["results_actual"]),
                pounds(r["total_actual"]),
                pounds(r["total_forecast"]),
                pounds(r["total_variance"]),
            )
        console.print(t)
    for line in _forecast_headline(fc, main):
        console.print(line, highlight=False)
    for note in fc.notes:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"wrote {target}", highlight=False)


# --------------------------------------------------------------------------- priority and lists


def _print_frame(title: str, frame: Any) -> None:
    from rich.table import Table

    t = Table(title=title)
    for c in frame.columns:
        t.add_column(c)
    for row in frame.iter_rows():
        t.add_row(*["" if v is None else str(v) for v in row])
    console.print(t)


@cohort_app.command("select")
@handles_errors
def cohort_select(
    count: Annotated[int, typer.Option("--count", "-n", help="How many families to choose.")],
    run: Annotated[
        int | None, typer.Argument(help="Build run id (default: the latest build).")
    ] = None,
    project: ProjectOpt = Path("familymatch.toml"),
    capacity: Annotated[
        list[str] | None,
        typer.Option(
            "--capacity",
            help="NAME=N: choose at most N families in this locality (or team); repeat.",
        ),
    ] = None,
    capacity_by: Annotated[
        str, typer.Option("--capacity-by", help="What --capacity names: locality or team.")
    ] = "locality",
    must_include: Annotated[
        Path | None,
        typer.Option("--must-include", help="File of family references to choose (one a line)."),
    ] = None,
    must_exclude: Annotated[
        Path | None,
        typer.Option("--must-exclude", help="File of family references never to choose."),
    ] = None,
    priority: Annotated[
        Path | None,
        typer.Option("--priority", help="Priority file (default: rules/priority.toml)."),
    ] = None,
    margin: Annotated[
        int, typer.Option("--margin", help="Families each side of the cut to explain.")
    ] = 5,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Selection workbook (default: selections/ beside the project)."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Choose the year's families by priority (rules/priority.toml), with optional capacity per
    locality or team and must-include / must-exclude lists; record the choice as a run and write
    a workbook with every family's rank, points and the reason it is in or out.

    Example:  familymatch cohort select --count 206 -p work/demo/familymatch.toml
    Example:  familymatch cohort select 1 -n 206 --capacity "East=40" --must-include keep.txt -p work/demo/familymatch.toml
    """
    import polars as pl

    from rules.priority import load_priority
    from rules.select import (
        SelectionRequest,
        parse_capacity,
        read_family_list,
        run_selection,
        selection_writer,
    )

    config = load_priority(priority)
    request = SelectionRequest(
        count=count,
        capacity=parse_capacity(capacity or []),
        capacity_by=capacity_by,
        must_include=read_family_list(must_include, "--must-include") if must_include else None,
        must_exclude=read_family_list(must_exclude, "--must-exclude") if must_exclude else None,
        margin=max(margin, 0),
    )
    if capacity_by not in ("locality", "team"):
        raise FamilyMatchError(f"--capacity-by {capacity_by}: use locality or team.")
    proj, store = _project_store(project)
    build_run = _run_or_latest(store, run)

    def path_for(run_id: int) -> Path:
        return out or proj.folder / "selections" / f"selection-run-{run_id}.xlsx"

    with console.status("scoring and choosing families"):
        result = run_selection(
            store,
            proj,
            build_run,
            config,
            request,
            write=selection_writer(path_for, proj.name, request),
        )
    files = []
    if result.workbook is not None:
        from familymatch.ingest import file_sha256

        files.append((str(result.workbook), file_sha256(result.workbook)))
    _audit(store, result.run_id, files)
    summary = result.summary
    if as_json:
        _print_json(
            {
                **{k: v for k, v in summary.items() if k != "families"},
                "select_run": result.run_id,
                "workbook": str(result.workbook) if result.workbook else None,
                "families": [
                    {k: f[k] for k in ("family_ref", "rank", "score", "status", "group")}
                    for f in summary["families"]
                ],
            }
        )
        return
    console.print(
        f"selection run {result.run_id} (build run {build_run}, priority {config.describe()}): "
        f"{summary['chosen']} of {result.selection.families.height} families chosen, "
        f"lowest score chosen {summary['cut_score']}",
        highlight=False,
    )
    _print_frame("by " + request.capacity_by, result.selection.by_group)
    _print_frame(
        "at the margin",
        result.selection.margin.select(
            "rank",
            "family_ref",
            "score",
            pl.col("chosen").replace_strict({True: "in", False: "out"}, return_dtype=pl.String),
            "reason",
        ),
    )
    for note in summary["notes"]:
        console.print(f"[yellow]note:[/] {note}", highlight=False)
    console.print(f"wrote {result.workbook}", highlight=False)


@cohort_app.command("lists")
@handles_errors
def cohort_lists(
    run: Annotated[
        int | None,
        typer.Argument(
            help="Build run id (default: that of the newest selection, else the latest build)."
        ),
    ] = None,
    by: Annotated[
        str, typer.Option("--by", help="One list per locality, team or worker.")
    ] = "locality",
    project: ProjectOpt = Path("familymatch.toml"),
    selection: Annotated[
        int | None,
        typer.Option(
            "--selection", help="Selection run to list (default: the newest for the build)."
        ),
    ] = None,
    whole_cohort: Annotated[
        bool, typer.Option("--all", help="List every family in the cohort, not a selection.")
    ] = False,
    sheets: Annotated[
        bool,
        typer.Option("--sheets", help="One workbook with a sheet per group, not a workbook each."),
    ] = False,
    pseudonymise: Annotated[
        bool,
        typer.Option(
            "--pseudonymise",
            help="For analysts: keyed hashes for families and people; no names, dates of birth, "
            "addresses or schools.",
        ),
    ] = False,
    priority: Annotated[
        Path | None,
        typer.Option("--priority", help="Priority file for --all (a selection keeps its own)."),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Folder (default: lists/ beside the project)."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written as JSON.")
    ] = False,
) -> None:
    """Caseworkers' lists: one workbook per locality, team or key worker (or one sheet each with
    --sheets), each family with its members, address, the criteria it meets in plain English,
    the services already involved and its priority with the arithmetic. Uses the newest
    selection (`cohort select`) unless --all.

    Example:  familymatch cohort lists --by locality -p work/demo/familymatch.toml
    Example:  familymatch cohort lists 1 --all --pseudonymise --sheets -p work/demo/familymatch.toml
    """
    import polars as pl

    from familymatch.ingest import file_sha256
    from rules.lists import plan_lists, write_lists
    from rules.priority import load_priority

    if priority is not None and not whole_cohort:
        raise FamilyMatchError(
            "--priority applies to --all; a selection is listed with the priority it was chosen by."
        )
    config = load_priority(priority) if whole_cohort else None
    proj, store = _project_store(project)
    key = None
    if pseudonymise:
        from familymatch.pseudonyms import load_or_create_key

        key = load_or_create_key()
    with console.status("gathering the families"):
        plan = plan_lists(
            store,
            proj,
            run,
            by,
            selection_run=selection,
            whole_cohort=whole_cohort,
            priority=config,
            key=key,
        )
    kind = f"select-run-{plan.select_run}" if plan.select_run else f"build-run-{plan.build_run}"
    suffix = "-pseudonymised" if pseudonymise else ""
    target = out or proj.folder / "lists" / f"{kind}-by-{by}{suffix}"
    with console.status("writing workbooks"):
        files = write_lists(plan, target, proj.name, one_workbook=sheets)
    _audit(store, plan.build_run, [(str(f), file_sha256(f)) for f in files])
    counts = plan.frames.families.group_by("group").len().sort("group").rename({"len": "families"})
    if as_json:
        _print_json(
            {
                "build_run": plan.build_run,
                "select_run": plan.select_run,
                "by": by,
                "pseudonymised": pseudonymise,
                "families": plan.frames.families.height,
                "groups": dict(counts.iter_rows()),
                "files": [str(f) for f in files],
            }
        )
        return
    console.print(f"{plan.description}, by {by}:", highlight=False)
    _print_frame(f"families per {by}", counts.with_columns(pl.col("families").cast(pl.Int64)))
    console.print(f"wrote {len(files)} workbook(s) to {target}", highlight=False)


# --------------------------------------------------------------------------- demo


@app.command("demo")
@handles_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Working folder.")] = Path("work/demo"),
    scale: Annotated[
        float, typer.Option(help="Size of the synthetic city (1.0 = 110,000 households).")
    ] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
) -> None:
    """Generate a synthetic council and run every step on it into a local SQLite file.

    Example:  familymatch demo --scale 0.1
    """
    import polars as pl

    from familymatch.link.evaluate import evaluate_links
    from fixtures.generate import generate
    from rules.build import build_cohort

    console.rule("1. a synthetic council")
    with console.status("generating extracts"):
        summary = generate(out, scale=scale, seed=seed)
    console.print(str(summary), highlight=False)
    db = out / "familymatch.db"
    for suffix in ("", "-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)

    console.rule("2. cohort build (ingest, link, households, phase 1 rules)")
    with console.status("building") as status:
        result = build_cohort(
            out / "familymatch.toml", progress=lambda st: status.update(f"building: {st}")
        )
    ingest = result.linked.ingest
    console.print(
        f"ingested {ingest.records.height:,} records from {len(ingest.stats)} sources; "
        f"{ingest.rejects['row'].n_unique() if ingest.rejects.height else 0} rows rejected "
        f"(listed with reasons in the run)",
        highlight=False,
    )
    print_summary(result.summary, result.seconds)

    console.rule("3. linkage quality against the synthetic truth")
    truth = pl.read_parquet(out / "truth" / "records.parquet")
    scores = evaluate_links(result.linked.membership, truth)
    for level, m in scores.items():
        console.print(
            f"{level:<10} precision {m['precision']:.4f}  recall {m['recall']:.4f}  F1 {m['f1']:.4f}",
            highlight=False,
        )
    expected = json.loads((out / "truth" / "expected.json").read_text())["phase1"][
        "cohort_by_combination"
    ]
    got = result.summary["cohort"]["by_combination"]
    console.print(
        "planted vs found: " + ", ".join(f"{k} {v}/{got.get(k, 0)}" for k, v in expected.items()),
        highlight=False,
    )

    console.rule("4. the year's families and the caseworkers' lists")
    total = int(result.summary["cohort"]["total"])
    if total:
        from familymatch.project import load_project
        from familymatch.store import open_store
        from rules.lists import plan_lists, write_lists
        from rules.priority import load_priority
        from rules.select import SelectionRequest, run_selection, selection_writer

        # Plymouth chose 206 of its 645 families for year one: the same share here
        count = min(206, max(1, round(total * 206 / 645)))
        proj = load_project(out / "familymatch.toml")
        store = open_store(proj.database_url)
        request = SelectionRequest(count=count)
        with console.status("choosing families and writing lists"):
            chosen = run_selection(
                store,
                proj,
                result.run_id,
                load_priority(),
                request,
                write=selection_writer(
                    lambda r: out / "selections" / f"selection-run-{r}.xlsx", proj.name, request
                ),
            )
            plan = plan_lists(store, proj, result.run_id, "locality")
            lists_dir = out / "lists" / f"select-run-{chosen.run_id}-by-locality"
            files = write_lists(plan, lists_dir, proj.name)
        from familymatch.ingest import file_sha256

        _audit(store, result.run_id, [(str(f), file_sha256(f)) for f in files])
        per_group = plan.frames.families.group_by("group").len().sort("group")
        console.print(
            f"chose {chosen.summary['chosen']} of {total} families by priority (lowest score "
            f"chosen {chosen.summary['cut_score']}; selection run {chosen.run_id}): "
            + ", ".join(f"{g} {n}" for g, n in per_group.iter_rows()),
            highlight=False,
        )
        console.print(f"selection workbook: {chosen.workbook}", highlight=False)
        console.print(
            f"{len(files)} caseworker list(s) by locality in {lists_dir}", highlight=False
        )

    console.rule("5. attachment, outcomes a year later, and a payment-by-results claim")
    claim_run, workbook = _demo_claim(out, result.run_id)

    console.rule("6. income forecast (phase 1 payment framework, claims/assumptions.toml)")
    from familymatch.project import load_project
    from familymatch.store import open_store

    proj = load_project(out / "familymatch.toml")
    fc, main = _forecast(open_store(proj.database_url), proj.folder, "phase1", run=result.run_id)
    for line in _forecast_headline(fc, main) + fc.notes:
        console.print(line, highlight=False)

    console.rule("next")
    console.print(
        f"familymatch forecast -p {out}/familymatch.toml\n"
        f"familymatch cohort report -p {out}/familymatch.toml\n"
        f"familymatch cohort show <HOUSEHOLD> -p {out}/familymatch.toml\n"
        f"familymatch link evaluate --truth {out}/truth -p {out}/familymatch.toml\n"
        f"familymatch cohort lists --by worker -p {out}/familymatch.toml\n"
        f"familymatch claims verify {workbook} -p {out}/familymatch.toml\n"
        f"familymatch claims history <FAMILY> -p {out}/familymatch.toml",
        highlight=False,
    )


def _demo_claim(out: Path, build_run: int) -> tuple[int, Path]:
    """The demo's programme year: the coordinator allocates the families (the synthetic truth
    plays the coordinator), they are attached, a year later the outcomes are imported, and a
    phase-1 claim is prepared and verified."""
    from claims.attach import check_allocation, read_allocation, write_allocation_template
    from claims.framework import load_framework
    from claims.outcomes import import_outcomes
    from claims.prepare import prepare_claim, workbook_name
    from claims.records import cohort_families, family_refs, read_attachments, record_attachments
    from claims.verify import verify_claim
    from claims.workbook import read_claim_workbook, write_claim_workbook
    from familymatch.store import open_store, run_info
    from fixtures.allocation import fill_allocation, score_claim
    from fixtures.period2 import R2

    proj, store = _project_store(out / "familymatch.toml")
    template = out / "allocation.csv"
    write_allocation_template(cohort_families(store, build_run), template)
    filled = out / "allocation_filled.csv"
    fill_allocation(template, filled, store, build_run, out / "truth")
    check = check_allocation(
        read_allocation(filled),
        cohort_families(store, build_run),
        family_refs(store, build_run),
        read_attachments(store).select("family_ref", "attached_on"),
        run_info(store, build_run)["reference_date"],
        R2,
        filled.name,
    )
    if check.problems:
        raise FamilyMatchError(check.problems[0])
    record_attachments(store, build_run, check.rows, str(filled))
    console.print(
        f"allocation template {template.name}; {check.rows.height:,} families attached "
        f"(July-October 2012) from {filled.name}",
        highlight=False,
    )
    with console.status("importing the period-2 extracts"):
        imported = import_outcomes(out / "familymatch_period2.toml", store, build_run)
    console.print(
        f"outcomes a year later: {imported.records:,} records, {imported.matched:,} linked to "
        f"known people, {imported.families_with_evidence:,} attached families with new evidence",
        highlight=False,
    )
    fw = load_framework("phase1")
    claim = prepare_claim(open_store(proj.database_url), fw, R2)
    workbook = workbook_name(out / "claims", claim.run_id)
    write_claim_workbook(workbook, claim.summary, claim.claims, claim.lines, claim.run_id, fw.title)
    _print_claim(claim.summary)
    verified = verify_claim(store, read_claim_workbook(workbook))
    score = score_claim(claim.claims, store, build_run, out / "truth")
    console.print(
        f"claim workbook {workbook} verified: {len(verified.discrepancies)} discrepancies; "
        f"against the planted results: precision {score['precision']:.4f}, recall "
        f"{score['recall']:.4f} ({score['right']} of {score['planted_results']} planted; "
        f"{score['planted_results_attached']} of them attached)",
        highlight=False,
    )
    return claim.run_id, workbook


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
