"""`--json` is JSON alone on stdout; logs and warnings go to stderr (issue 16)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from claims.records import cohort_families
from cli import app
from familymatch.store import open_store

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "fixtures" / "sample"

HOLD_LOCK_AND_DIE = """
import os, signal, sys
from familymatch.store import open_store
from familymatch.store.runs import acquire_lock
acquire_lock(open_store(sys.argv[1]))
os.kill(os.getpid(), signal.SIGKILL)
"""


def familymatch(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "80"},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_build_json_after_a_build_killed_with_sigkill_is_pure_json(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "c")
    proj = tmp_path / "c" / "familymatch.toml"
    url = f"sqlite:///{tmp_path / 'c' / 'familymatch.db'}"
    died = subprocess.run([sys.executable, "-c", HOLD_LOCK_AND_DIE, url], cwd=ROOT, timeout=60)
    assert died.returncode == -signal.SIGKILL
    built = familymatch("cohort", "build", "--json", "-p", str(proj))
    assert built.returncode == 0, built.stderr
    summary = json.loads(built.stdout)
    assert summary["run_id"] == 1 and summary["cohort"]["total"] > 0
    assert "removed the build lock of process" in " ".join(built.stderr.split())

    # a family as a coordinator asks for it, in an 80-column terminal
    ref = cohort_families(open_store(url), 1)["family_ref"][0]
    shown = familymatch("cohort", "show", ref, "-p", str(proj))
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.startswith(f"{ref} (household H")
    assert max(map(len, shown.stdout.splitlines())) <= 80 and "…" not in shown.stdout


def test_debug_log_goes_to_stderr_and_json_stays_pure(tmp_path: Path) -> None:
    shutil.copytree(SAMPLE, tmp_path / "c")
    proj = str(tmp_path / "c" / "familymatch.toml")
    result = CliRunner().invoke(
        app, ["--log-level", "DEBUG", "cohort", "build", "--json", "-p", proj]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["run_id"] == 1
    assert "familymatch.link: link:" in result.stderr
    assert "familymatch." not in result.stdout
