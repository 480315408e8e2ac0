"""The familymatch command line: one verb per user job, thin, calling the packages below.

Nothing imports this module. Every command turns a FamilyMatchError into one sentence on stderr
and a non-zero exit; heavy imports happen inside the commands so `--help` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from familymatch.errors import FamilyMatchError, date_option
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
RunOpt = Annotated[int | None, typer.Option(help="Run id (default: the latest build).")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SummaryJsonOpt = Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")]
RunArg = Annotated[int | None, typer.Argument(help="Run id (default: the latest build).")]
BuildOpt = Annotated[int | None, typer.Option(help="Build run (default: the latest).")]
AttachedBuildOpt = Annotated[
    int | None, typer.Option(help="Build run (default: the one the families were attached from).")
]
FamilyArg = Annotated[
    str, typer.Argument(help="A family reference (F000011) or the build's household id.")
]
FrameworkOpt = Annotated[
    str, typer.Option(help="Payment framework: a name in claims/ (phase1, phase2) or a .toml path.")
]
PriorityOpt = Annotated[
    Path | None,
    typer.Option(help="Priority file (default: rules/priority.toml; in lists, for --all only)."),
]


def out_option(help: str, short: bool = True) -> Any:
    """The --out option (and -o) of a command that writes a file or folder."""
    return typer.Option("--out", "-o", help=help) if short else typer.Option("--out", help=help)


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
            for line in exc.details:
                err_console.print(line, highlight=False, markup=False)
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


def _print_json(data: object) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def show(items: Iterable[Any]) -> None:
    """Print each line or table the packages' views give, in order."""
    for item in items:
        console.print(item, highlight=False)


@contextmanager
def _progress(what: str, quiet: bool = False) -> Iterator[Callable[[str], None]]:
    """A status line on the terminal (none with --json); yields what updates it."""
    if quiet:
        yield lambda _: None
        return
    with console.status(what) as status:
        yield lambda step: status.update(f"{what}: {step}")


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
        Path | None, typer.Option(help="Write rejected rows and reasons here (CSV).")
    ] = None,
) -> None:
    """Check the extracts: read every source, count rows accepted and rejected, list why.

    Nothing is linked or recorded. Example:  familymatch ingest -p work/demo/familymatch.toml
    """
    from familymatch.ingest import ingest_project, write_rejects
    from familymatch.project import load_project
    from familymatch.views import columns_table, ingest_table, reject_lines

    proj = load_project(project)
    with _progress("reading") as update:
        result = ingest_project(proj, progress=update)
    _audit(_project_store(project)[1], None, [(st.path, st.sha256) for st in result.stats])
    show([ingest_table(result.stats), columns_table(result.columns), *reject_lines(result.rejects)])
    if result.rejects.height and rejects is not None:
        write_rejects(result.rejects, rejects)
        console.print(f"rejected rows written to {rejects}", highlight=False)


sources_app = typer.Typer(help="Look at an extract before mapping it.", no_args_is_help=True)
app.add_typer(sources_app, name="sources")


@sources_app.command("inspect")
@handles_errors
def sources_inspect(
    file: Annotated[Path, typer.Argument(help="The extract (.csv, .xlsx, .parquet).")],
    sheet: Annotated[str | None, typer.Option(help="xlsx: the sheet.")] = None,
    header_row: Annotated[int, typer.Option("--header-row", min=1, help="1-based.")] = 1,
    toml: Annotated[
        Path | None, typer.Option(help="Write the draft [[sources]] block here.")
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
    from familymatch.ingest.inspect import inspect_command
    from familymatch.views import inspect_table

    found, draft = inspect_command(file, sheet, header_row, toml)
    if as_json:
        return _print_json(found.document(draft, examples=not no_examples))
    console.print(inspect_table(found, not no_examples))
    console.print(f"draft written to {toml}" if toml else draft, highlight=False, markup=False)


# --------------------------------------------------------------------------- cohort


def _project_store(project: Path) -> tuple[Any, Any]:
    from familymatch.store.session import project_store

    return project_store(project)


def _audit(store: Any, run_id: int | None, files: list[tuple[str, str]] | None = None) -> None:
    """Record in the audit log that the current command read or wrote personal data."""
    from familymatch.store import audit

    audit(store, _COMMAND, run_id, files or [])


def _run_or_latest(store: Any, run: int | None) -> int:
    """The run to read (the latest complete build by default); the read is audited."""
    from familymatch.store.session import build_to_read

    return build_to_read(store, run, _COMMAND)


@cohort_app.command("build")
@handles_errors
def cohort_build(
    project: ProjectOpt = Path("familymatch.toml"),
    as_of: Annotated[
        str | None, typer.Option(help="Reference date YYYY-MM-DD (default: the project's).")
    ] = None,
    as_json: SummaryJsonOpt = False,
    model_from_run: Annotated[
        int | None, typer.Option(help="Reuse the linkage model fitted in this earlier run.")
    ] = None,
) -> None:
    """Ingest, link, group into households and apply the rule set; record the run.

    Example:  familymatch cohort build -p work/demo/familymatch.toml --as-of 2012-06-01 --json
    Example:  familymatch cohort build -p work/demo/familymatch.toml --model-from-run 1
    """
    from familymatch.progress_view import stage_bars
    from rules.build import build_cohort
    from rules.views import build_view

    reference = date_option(as_of, "--as-of")
    with stage_bars(err_console, quiet=as_json) as update:
        result = build_cohort(project, reference, progress=update, model_from_run=model_from_run)
    _print_json(result.summary) if as_json else show(build_view(result))


@cohort_app.command("show")
@handles_errors
def cohort_show(
    family: FamilyArg,
    project: ProjectOpt = Path("familymatch.toml"),
    run: RunOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One family: its reference, members, the criteria it meets, and the rows that prove each.

    Example:  familymatch cohort show F000011 -p work/demo/familymatch.toml
    """
    from familymatch.store.families import resolve_family
    from rules.show import family_document, family_view

    _, store = _project_store(project)
    doc = family_document(store, resolve_family(store, _run_or_latest(store, run), family))
    _print_json(doc) if as_json else show(family_view(doc))


@cohort_app.command("report")
@handles_errors
def cohort_report(
    run: RunArg = None,
    project: ProjectOpt = Path("familymatch.toml"),
    out: Annotated[
        Path | None, out_option("Workbook to write (default: beside the project).")
    ] = None,
    as_json: SummaryJsonOpt = False,
) -> None:
    """The cohort profile of a recorded build, as a workbook with a chart and on the terminal:
    criteria and combinations, local lists already in the cohort, areas, schools, children's ages.

    Example:  familymatch cohort report 3 -p work/demo/familymatch.toml --out profile.xlsx
    """
    from rules.commands import report_command
    from rules.views import report_view

    proj, store = _project_store(project)
    rc = report_command(store, proj, _run_or_latest(store, run), out, summary_only=as_json)
    _print_json(rc.summary) if as_json else show(report_view(rc))


@cohort_app.command("diff")
@handles_errors
def cohort_diff_cmd(
    run_a: Annotated[
        int | None, typer.Argument(help="The earlier build (default: the second newest).")
    ] = None,
    run_b: Annotated[
        int | None, typer.Argument(help="The later build (default: the newest).")
    ] = None,
    project: ProjectOpt = Path("familymatch.toml"),
    out: Annotated[
        Path | None, out_option("Also write the refresh as a workbook (.xlsx).", short=False)
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What a refresh changed, by family reference: attached families that still meet the
    criteria, no longer meet them (they stay attached) or are not found as one household; new
    cohort families; families that left or changed criteria; families whose members changed.

    Example:  familymatch cohort diff 1 2 -p work/demo/familymatch.toml --out diff.xlsx
    """
    from claims.refresh import refresh_command
    from claims.views import refresh_view

    _, store = _project_store(project)
    r = refresh_command(store, run_a, run_b, out)
    _audit(store, r.diff.run_b, [(str(out), "written")] if out else None)
    _print_json(r.document()) if as_json else show(refresh_view(r, out))


# --------------------------------------------------------------------------- db


@db_app.command("upgrade")
@handles_errors
def db_upgrade(project: ProjectOpt = Path("familymatch.toml")) -> None:
    """Bring the project's database to the current schema (migrations; data kept).

    Example:  familymatch db upgrade -p work/demo/familymatch.toml
    """
    from familymatch.store.session import upgrade_database

    console.print(upgrade_database(project), highlight=False)


@db_app.command("unlock")
@handles_errors
def db_unlock(project: ProjectOpt = Path("familymatch.toml")) -> None:
    """Remove a build lock left by a build that died on another machine (its run is failed).

    Example:  familymatch db unlock -p work/demo/familymatch.toml
    """
    from familymatch.store.session import unlock_database

    console.print(unlock_database(project), highlight=False)


# --------------------------------------------------------------------------- link


@link_app.command("evaluate")
@handles_errors
def link_evaluate(
    truth: Annotated[
        Path,
        typer.Option(
            help="Folder with records.parquet (record_id, person_id, household_id; address_id "
            "for address scores).",
        ),
    ],
    project: ProjectOpt = Path("familymatch.toml"),
    run: RunOpt = None,
    as_json: JsonOpt = False,
    by_group: Annotated[
        bool, typer.Option("--by-group", help="Also show link rates by source, sex and age band.")
    ] = False,
) -> None:
    """Precision, recall and F1 of person links, household membership and address entities
    against a truth.

    Example:  familymatch link evaluate --truth work/demo/truth -p work/demo/familymatch.toml --by-group
    """
    from familymatch.link.evaluate import evaluate_run
    from familymatch.views import evaluation_view

    _, store = _project_store(project)
    scores = evaluate_run(store, _run_or_latest(store, run), truth, by_group)
    _print_json(scores) if as_json else show(evaluation_view(scores))


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
        str | None, typer.Option(help="Explain a family instead (F000011 or household id).")
    ] = None,
    project: ProjectOpt = Path("familymatch.toml"),
    run: RunOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Why two records were (or were not) linked, or what made a family's household.

    For two records: a waterfall of each comparison's level and match weight adding up to the
    total, the probability against the threshold, and the decision. For --household: its
    people, address, what joined each person to it, and the record links inside each person
    with their stages. --json prints the same as a document.

    Example:  familymatch link explain benefits:12:claimant school_census:40 -p work/demo/familymatch.toml
    Example:  familymatch link explain --household F000011 -p work/demo/familymatch.toml
    """
    from familymatch.link.explain_text import explain_command

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    doc, lines = explain_command(store, run_id, record_a, record_b, household)
    _print_json(doc) if as_json else show(lines)


@link_app.command("export")
@handles_errors
def link_export(
    out: Annotated[Path, out_option("CSV or Parquet file to write.")],
    run: RunArg = None,
    project: ProjectOpt = Path("familymatch.toml"),
) -> None:
    """Per source row: its person id and household id (CSV or Parquet, owner-only).

    Example:  familymatch link export 3 --out links.csv -p work/demo/familymatch.toml
    """
    from familymatch.link.evaluate import export_links

    _, store = _project_store(project)
    rows = export_links(store, _run_or_latest(store, run), out)
    console.print(f"wrote {rows:,} rows to {out}")


@app.command("audit-log")
@handles_errors
def audit_log(project: ProjectOpt = Path("familymatch.toml")) -> None:
    """Who ran which command on which run and files.

    Example:  familymatch audit-log -p work/demo/familymatch.toml
    """
    from familymatch.store import read_audit_log
    from familymatch.views import audit_table

    _, store = _project_store(project)
    show([audit_table(read_audit_log(store))])


# --------------------------------------------------------------------------- attachment


@cohort_app.command("allocation")
@handles_errors
def cohort_allocation(
    out: Annotated[Path, typer.Option("--out", help="The template to write (.xlsx or .csv).")],
    project: ProjectOpt = Path("familymatch.toml"),
    run: BuildOpt = None,
    people: Annotated[
        bool,
        typer.Option(
            "--people",
            help="The person-details layout for `attach --match-people` (no families listed).",
        ),
    ] = False,
) -> None:
    """Write the allocation template: one row per cohort family, with blank key worker, team
    and attachment date for the coordinator to fill in and give back to `familymatch attach`.
    With --people, the blank person-details layout (forename, surname, dob, address, postcode,
    key_worker, team, attached_on, skip) for a team's own case list.

    Example:  familymatch cohort allocation --out allocation.xlsx -p work/demo/familymatch.toml
    """
    from claims.attach import allocation_template

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    families = allocation_template(store, run_id, out, people)
    _audit(store, run_id, [(str(out), "written")])
    what = "person-details template" if people else f"allocation template for {families:,} families"
    console.print(f"{what}: {out}", highlight=False)


@app.command("attach")
@handles_errors
def attach(
    file: Annotated[Path, typer.Argument(help="The allocation returned (.xlsx or .csv).")],
    project: ProjectOpt = Path("familymatch.toml"),
    run: BuildOpt = None,
    sheet: Annotated[
        str | None,
        typer.Option(help="The sheet of an .xlsx file (default Allocation, or People)."),
    ] = None,
    today: Annotated[
        str | None, typer.Option(help="Treat this date as today (YYYY-MM-DD), for replays.")
    ] = None,
    match_people: Annotated[
        bool,
        typer.Option(
            "--match-people",
            help="Rows name the lead adult (forename, surname, dob, address, postcode) instead "
            "of a family reference: link each to the build with its linkage model.",
        ),
    ] = False,
    margin: Annotated[
        float | None,
        typer.Option(help="--match-people: the match weight a runner-up family must trail by."),
    ] = None,
) -> None:
    """Record the families attached: family reference (or the lead adult's details with
    --match-people), key worker, team, attachment date.

    Every row is checked first (unknown family, not in the cohort, date before the build or in
    the future, family already attached, listed twice; with --match-people a weak or ambiguous
    match); any problem and nothing is recorded. Rows left blank, or marked in a `skip` column,
    are not attached.

    Example:  familymatch attach allocation.xlsx -p work/demo/familymatch.toml
    Example:  familymatch attach caselist.csv --match-people -p work/demo/familymatch.toml
    """
    from claims.commands import attach_file
    from claims.views import attach_view

    _, store = _project_store(project)
    run_id = _run_or_latest(store, run)
    day = date_option(today, "--today") or date.today()
    with console.status("matching the lead adults" if match_people else "checking"):
        done = attach_file(store, run_id, file, sheet, day, match=match_people, margin=margin)
    show(attach_view(done))


# --------------------------------------------------------------------------- outcomes and claims


@outcomes_app.command("import")
@handles_errors
def outcomes_import(
    later: Annotated[Path, typer.Argument(help="The later period's project file.")],
    project: ProjectOpt = Path("familymatch.toml"),
    build: AttachedBuildOpt = None,
) -> None:
    """Link a later period's extracts onto the attached families and record the evidence.

    The later project file lists the later extracts (same layouts, plus an employment source);
    its records are linked with the build's records using the build's fitted model.

    Example:  familymatch outcomes import work/demo/familymatch_period2.toml -p work/demo/familymatch.toml
    """
    from claims.outcomes import import_outcomes
    from claims.views import outcomes_view

    _, store = _project_store(project)
    with _progress("outcomes") as update:
        result = import_outcomes(later, store, build, progress=update)
    show(outcomes_view(result))


@claims_app.command("prepare")
@handles_errors
def claims_prepare(
    as_of: Annotated[str, typer.Option("--as-of", help="The claim date YYYY-MM-DD.")],
    project: ProjectOpt = Path("familymatch.toml"),
    framework: FrameworkOpt = "phase1",
    out: Annotated[
        Path | None, out_option("The workbook (default: claims/ beside the project).", False)
    ] = None,
    build: AttachedBuildOpt = None,
    sample: Annotated[
        str | None, typer.Option(help="Audit sample share, e.g. 0.2 (default: the framework's).")
    ] = None,
    as_json: SummaryJsonOpt = False,
) -> None:
    """Decide, per attached family, which result is claimable now; record the claim and write
    the workbook for internal audit (summary, families, evidence, not claimed, audit sample).

    Example:  familymatch claims prepare --framework phase1 --as-of 2013-06-01 -p work/demo/familymatch.toml
    """
    from claims.commands import prepare_and_write
    from claims.views import claim_view

    proj, store = _project_store(project)
    day = date_option(as_of, "--as-of")
    assert day is not None
    claim = prepare_and_write(store, proj.folder, framework, day, build, sample, out)
    _print_json(claim.document()) if as_json else show(claim_view(claim))


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
    from claims.commands import verify_workbook
    from claims.views import discrepancies_line, verification_view

    _, store = _project_store(project)
    v = verify_workbook(store, workbook)
    show(verification_view(v))
    if not v.ok:
        err_console.print(discrepancies_line(v))
        raise typer.Exit(1)


@claims_app.command("submit")
@handles_errors
def claims_submit(
    workbook: Annotated[Path, typer.Argument(help="The verified, signed-off claim workbook.")],
    project: ProjectOpt = Path("familymatch.toml"),
    on: Annotated[str | None, typer.Option(help="Submission date (default: today).")] = None,
) -> None:
    """Record a verified and signed-off claim as submitted: its families cannot be claimed for
    the same result again.

    Example:  familymatch claims submit work/demo/claims/claim-run-4.xlsx -p work/demo/familymatch.toml
    """
    from claims.commands import not_verified, submit_workbook
    from claims.views import submission_line, verification_lines

    _, store = _project_store(project)
    done, v = submit_workbook(store, workbook, date_option(on, "--on") or date.today())
    if done is None:
        show(verification_lines(v))
        raise not_verified(workbook, v)
    console.print(submission_line(done), highlight=False)


@claims_app.command("history")
@handles_errors
def claims_history(
    family: FamilyArg,
    project: ProjectOpt = Path("familymatch.toml"),
    as_json: JsonOpt = False,
) -> None:
    """What was claimed for a family, when, and whether it was submitted.

    Example:  familymatch claims history F000123 -p work/demo/familymatch.toml
    """
    from claims.commands import history_command
    from claims.views import history_document, history_table

    _, store = _project_store(project)
    ref, rows = history_command(store, family, _COMMAND)
    _print_json(history_document(rows)) if as_json else show([history_table(ref, rows)])


# --------------------------------------------------------------------------- forecast


@app.command("forecast")
@handles_errors
def forecast_cmd(
    project: ProjectOpt = Path("familymatch.toml"),
    framework: FrameworkOpt = "phase1",
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
        Path | None, out_option("Workbook to write (default: reports/ beside the project).")
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
    from claims.forecast_report import forecast_document, forecast_view, run_forecast

    proj, store = _project_store(project)
    _audit(store, run)
    fr = run_forecast(
        store, proj, framework, assumptions, scenario, attachments, run, out, not as_json
    )
    _print_json(forecast_document(fr)) if as_json else show(forecast_view(fr))


# --------------------------------------------------------------------------- priority and lists


@cohort_app.command("select")
@handles_errors
def cohort_select(
    count: Annotated[int, typer.Option("--count", "-n", help="How many families to choose.")],
    run: RunArg = None,
    project: ProjectOpt = Path("familymatch.toml"),
    capacity: Annotated[
        list[str] | None,
        typer.Option(help="NAME=N: choose at most N families in this locality (or team); repeat."),
    ] = None,
    capacity_by: Annotated[
        str, typer.Option(help="What --capacity names: locality or team.")
    ] = "locality",
    must_include: Annotated[
        Path | None, typer.Option(help="File of family references to choose (one a line).")
    ] = None,
    must_exclude: Annotated[
        Path | None, typer.Option(help="File of family references never to choose.")
    ] = None,
    priority: PriorityOpt = None,
    margin: Annotated[int, typer.Option(help="Families each side of the cut to explain.")] = 5,
    out: Annotated[
        Path | None, out_option("Selection workbook (default: selections/ beside the project).")
    ] = None,
    as_json: SummaryJsonOpt = False,
) -> None:
    """Choose the year's families by priority (rules/priority.toml), with optional capacity per
    locality or team and must-include / must-exclude lists; record the choice as a run and write
    a workbook with every family's rank, points and the reason it is in or out.

    Example:  familymatch cohort select --count 206 -p work/demo/familymatch.toml
    Example:  familymatch cohort select 1 -n 206 --capacity "East=40" --must-include keep.txt -p work/demo/familymatch.toml
    """
    from rules.commands import select_command
    from rules.views import select_view

    proj, store = _project_store(project)
    build_run = _run_or_latest(store, run)
    with _progress("scoring and choosing families", quiet=as_json):
        sc = select_command(
            store,
            proj,
            build_run,
            count,
            capacity or [],
            capacity_by,
            must_include,
            must_exclude,
            priority,
            margin,
            out,
        )
    _print_json(sc.document()) if as_json else show(select_view(sc))


@cohort_app.command("lists")
@handles_errors
def cohort_lists(
    run: Annotated[
        int | None,
        typer.Argument(
            help="Build run id (default: that of the newest selection, else the latest build)."
        ),
    ] = None,
    by: Annotated[str, typer.Option(help="One list per locality, team or worker.")] = "locality",
    project: ProjectOpt = Path("familymatch.toml"),
    selection: Annotated[
        int | None,
        typer.Option(help="Selection run to list (default: the newest for the build)."),
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
    priority: PriorityOpt = None,
    out: Annotated[Path | None, out_option("Folder (default: lists/ beside the project).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Caseworkers' lists: one workbook per locality, team or key worker (or one sheet each with
    --sheets), each family with its members, address, the criteria it meets in plain English,
    the services already involved and its priority with the arithmetic. Uses the newest
    selection (`cohort select`) unless --all.

    Example:  familymatch cohort lists --by locality -p work/demo/familymatch.toml
    Example:  familymatch cohort lists 1 --all --pseudonymise --sheets -p work/demo/familymatch.toml
    """
    from rules.commands import lists_command
    from rules.views import lists_view

    proj, store = _project_store(project)
    with _progress("gathering the families and writing the lists", quiet=as_json):
        lc = lists_command(
            store, proj, run, by, selection, whole_cohort, pseudonymise, priority, out, sheets
        )
    _print_json(lc.document()) if as_json else show(lists_view(lc))


# --------------------------------------------------------------------------- demo


@app.command("demo")
@handles_errors
def demo(
    out: Annotated[Path, typer.Option("--out", help="Working folder.")] = Path("work/demo"),
    scale: Annotated[float, typer.Option(help="City size (1.0 = 110,000 households).")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 42,
    half_yearly: Annotated[bool, typer.Option(help="Seven refreshes, not four.")] = False,
) -> None:
    """A synthetic council's programme over three years, into a local SQLite file.

    Example:  familymatch demo --scale 0.1
    """
    from fixtures.demo import run_demo

    run_demo(out, scale, seed, console, half_yearly)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
