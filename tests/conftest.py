"""Shared pytest fixtures: a small synthetic council, generated once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from fixtures.generate import GenerateSummary, generate


@pytest.fixture(scope="session")
def small_council(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, GenerateSummary]:
    out = tmp_path_factory.mktemp("council")
    summary = generate(out, scale=0.02, seed=11)
    return out, summary


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path
