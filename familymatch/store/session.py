"""What every command does with the store before its own work: open the project's database,
choose the build to read (the latest complete one by default) and record the read in the audit
log; and the database's own chores (schema upgrade, a dead build's lock)."""

from __future__ import annotations

from pathlib import Path

from familymatch.errors import FamilyMatchError
from familymatch.project import Project, load_project
from familymatch.store.audit import audit
from familymatch.store.engine import Store, make_engine, open_store, safe_url
from familymatch.store.runs import break_lock, latest_run


def project_store(project: Path) -> tuple[Project, Store]:
    """The project file, validated, and its database."""
    proj = load_project(project)
    return proj, open_store(proj.database_url)


def build_to_read(store: Store, run: int | None, command: str) -> int:
    """The run to read (the latest complete build by default); the read is audited."""
    if run is None:
        found = latest_run(store)
        if found is None:
            raise FamilyMatchError(
                f"no complete build in {store.label}; run `familymatch cohort build` first."
            )
        run = int(found)
    audit(store, command, run, [])
    return run


def upgrade_database(project: Path) -> str:
    """Bring the project's database to the current schema; one line saying what changed."""
    from familymatch.store.migrations import current_revision, upgrade

    proj = load_project(project)
    engine = make_engine(proj.database_url)
    before = current_revision(engine)
    after = upgrade(proj.database_url)
    audit(engine, f"db upgrade {before} -> {after}", None, [])
    return f"{safe_url(proj.database_url)}: schema {before or 'none'} -> {after}"


def unlock_database(project: Path) -> str:
    """Remove the build lock (its run is marked failed); one line saying whose it was."""
    _, store = project_store(project)
    holder = break_lock(store)
    if holder is None:
        return "no build lock was held."
    return f"removed the lock of run {holder.run_id} (pid {holder.pid} on {holder.host})."
