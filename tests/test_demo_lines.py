"""The demo's lines are printed in the order given, each waiting for the step it depends on."""

from __future__ import annotations

import io
from concurrent.futures import Future

import pytest
from rich.console import Console

from fixtures.demo_lines import Lines


def printed(console: Console) -> list[str]:
    return console.file.getvalue().splitlines()  # type: ignore[attr-defined]


def test_lines_wait_for_their_step_and_keep_their_order() -> None:
    console = Console(file=io.StringIO(), width=60)
    lines = Lines(console)
    diff: Future[int] = Future()
    lines.print("build run 4")
    lines.later(diff, lambda n: [f"{n} families joined"])
    lines.print("attached 9 families")
    lines.rule("next")
    assert printed(console) == ["build run 4"]  # the rest waits for the diff
    diff.set_result(8)
    lines.flush()
    assert printed(console)[:3] == ["build run 4", "8 families joined", "attached 9 families"]
    assert "next" in printed(console)[3]
    assert lines.waiting == []


def test_drain_raises_a_failed_steps_exception() -> None:
    console = Console(file=io.StringIO())
    lines = Lines(console)
    failed: Future[int] = Future()
    lines.print("before")
    lines.later(failed, lambda n: [str(n)])
    failed.set_exception(ValueError("the diff failed"))
    with pytest.raises(ValueError, match="the diff failed"):
        lines.drain()
    assert printed(console) == ["before"]
