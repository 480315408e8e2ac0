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
db_app = typer.Typer(help="The database: schema upgrades.", no_args_is_help=True)
app.add_typer(fixtures_app, name="fixtures")
app.add_typer(cohort_app, name="cohort")
app.add_typer(link_app, name="link")
app.add_typer(db_app, name="db")

ProjectOpt = Annotated[
    Path,
    typer.Option("--project", "-p", help="The project file.", show_default=True),
]


def handles_errors(func: F) -> F:
    """Print a FamilyMatchError as one sentence on stderr and exit non-zero."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
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
) -> None:
    """Generate a synthetic council: messy extracts, ground truth and a ready project file.

    Example:  familymatch fixtures generate --scale 0.1 --seed 7 --out work/council
    """
    from fixtures.generate import generate

    with console.status("generating the synthetic council"):
        summary = generate(out, scale=scale, seed=seed)
    console.print(f"wrote the synthetic council to {out} ({summary})")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
