"""Progress of a build, stage by stage, as plain events (no terminal code here: the command
line draws them, benchmarks time them).

A build calls its callback twice per stage, in the order of ``BUILD_STAGES``: once when the
stage starts (``done`` False) and once when it ends (``done`` True, with what it produced: a
count and its unit, e.g. 194,049 records).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from familymatch.memory import release_free_memory

BUILD_STAGES = ("ingest", "standardise", "addresses", "link", "households", "rules", "record")


@dataclass(frozen=True)
class StageEvent:
    """One stage starting or ending."""

    stage: str
    done: bool = False
    count: int | None = None
    unit: str = ""


Progress = Callable[[StageEvent], None]


def no_progress(_: StageEvent) -> None:
    return None


Done = Callable[[int, str], None]


@contextmanager
def timed_stage(name: str, say: Progress, seconds: dict[str, float]) -> Iterator[Done]:
    """Time one stage into ``seconds[name]`` and tell ``say`` when it starts and when it ends;
    the body calls the yielded function with what it produced (count, unit)."""
    produced: list[tuple[int | None, str]] = [(None, "")]
    say(StageEvent(name))
    t = time.perf_counter()
    yield lambda count, unit: produced.append((count, unit))
    release_free_memory()  # what the stage freed is not held through the next
    seconds[name] = time.perf_counter() - t
    say(StageEvent(name, done=True, count=produced[-1][0], unit=produced[-1][1]))
