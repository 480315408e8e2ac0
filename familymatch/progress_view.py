"""The build's stages as rich progress bars on a terminal (stderr); nothing elsewhere."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from familymatch.progress import BUILD_STAGES, StageEvent, no_progress
from familymatch.progress import Progress as ProgressCallback


@contextmanager
def stage_bars(
    console: Console, quiet: bool = False, stages: tuple[str, ...] = BUILD_STAGES
) -> Iterator[ProgressCallback]:
    """One bar per stage, filled when the stage ends and labelled with its count. Quiet (no
    bars, the callback does nothing) with ``quiet`` or when ``console`` is not a terminal."""
    if quiet or not console.is_terminal:
        yield no_progress
        return
    bars = Progress(
        TextColumn("{task.fields[stage]:<12}"),
        BarColumn(bar_width=24),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )
    tasks = {st: bars.add_task(st, total=1, start=False, stage=st, note="waiting") for st in stages}

    def update(event: StageEvent) -> None:
        task = tasks.get(event.stage)
        if task is None:
            return
        if not event.done:
            bars.start_task(task)
            bars.update(task, note="running")
            return
        note = f"{event.count:,} {event.unit}" if event.count is not None else "done"
        bars.update(task, completed=1, note=note)
        bars.stop_task(task)

    with bars:
        yield update
