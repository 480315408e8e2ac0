"""Shared pytest fixtures: a small synthetic council, generated and built once per test session
(once for all the xdist workers, under a file lock)."""

from __future__ import annotations

import fcntl
import pickle
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from fixtures.generate import GenerateSummary, generate


def shared_folder(
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
    name: str,
    make: Callable[[Path], None],
) -> Path:
    """``name`` made by ``make`` once per session: the first xdist worker makes it under a lock
    in the folder the workers share, the others wait and reuse it. Tests copy it to change it."""
    root = tmp_path_factory.getbasetemp()
    root = root if worker_id == "master" else root.parent
    folder = root / f"shared-{name}"
    with (root / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        done = root / f"shared-{name}.done"
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            make(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def small_council(
    tmp_path_factory: pytest.TempPathFactory, worker_id: str
) -> tuple[Path, GenerateSummary]:
    def make(folder: Path) -> None:
        summary = generate(folder / "c", scale=0.02, seed=11)
        (folder / "summary.pickle").write_bytes(pickle.dumps(summary))

    folder = shared_folder(tmp_path_factory, worker_id, "council", make)
    return folder / "c", pickle.loads((folder / "summary.pickle").read_bytes())


@pytest.fixture(scope="session")
def built_council(
    small_council: tuple[Path, GenerateSummary],
    tmp_path_factory: pytest.TempPathFactory,
    worker_id: str,
) -> Path:
    """The small council after `cohort build --json` (run 1). Copy it before changing it."""
    from typer.testing import CliRunner

    from cli import app

    def make(folder: Path) -> None:
        shutil.copytree(small_council[0], folder)
        project = str(folder / "familymatch.toml")
        result = CliRunner().invoke(app, ["cohort", "build", "-p", project, "--json"])
        assert result.exit_code == 0, result.output

    return shared_folder(tmp_path_factory, worker_id, "built", make)


@pytest.fixture(scope="session")
def debug_demo(tmp_path_factory: pytest.TempPathFactory, worker_id: str) -> tuple[Path, str]:
    """`familymatch --log-level DEBUG demo --scale 0.01` run once: its folder and what it
    printed (stdout and the debug log on stderr)."""
    import logging

    from typer.testing import CliRunner

    from cli import app

    def make(folder: Path) -> None:
        args = ["--log-level", "DEBUG", "demo", "--scale", "0.01", "--out", str(folder / "demo")]
        result = CliRunner().invoke(app, args)
        logging.getLogger("familymatch").handlers.clear()
        assert result.exit_code == 0, result.output
        (folder / "printed.txt").write_text(result.output, encoding="utf-8")

    folder = shared_folder(tmp_path_factory, worker_id, "demo", make)
    return folder / "demo", (folder / "printed.txt").read_text(encoding="utf-8")


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path
