"""Schema migrations (Alembic), run from Python: ``upgrade(engine_or_url)``.

``0001`` is the first released schema (what ``open_store`` created with ``create_all`` before
migrations existed); later revisions change it without losing data. A database made before
migrations existed (it has the tables but no ``alembic_version``) is stamped ``0001`` first, then
upgraded. The whole upgrade runs in one transaction: on SQLite under ``BEGIN IMMEDIATE`` (a
second process waits), on PostgreSQL under a transaction-scoped advisory lock.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from familymatch.errors import FamilyMatchError
from familymatch.store.engine import IMMEDIATE, make_engine, safe_url

__all__ = ["FIRST_REVISION", "current_revision", "head_revision", "upgrade"]

HERE = Path(__file__).resolve().parent
FIRST_REVISION = "0001"
_PG_UPGRADE_LOCK = 0x464D5354  # "FMST": the advisory lock id for schema upgrades


def alembic_config() -> Config:
    """An Alembic configuration pointing at this folder (no alembic.ini)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    return cfg


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision (the schema ``familymatch.store.schema`` describes)."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(target: Engine | Connection) -> str | None:
    """The revision a database is at (None for an empty database)."""
    if isinstance(target, Engine):
        with target.connect() as conn:
            return current_revision(conn)
    tables = set(inspect(target).get_table_names())
    if "alembic_version" not in tables:
        return FIRST_REVISION if "runs" in tables else None
    return MigrationContext.configure(target).get_current_revision()


def upgrade(target: Engine | str, revision: str = "head") -> str:
    """Bring the database to ``revision`` (default: the newest) keeping its data; returns the
    revision it is at afterwards."""
    engine = target if isinstance(target, Engine) else make_engine(target)
    wanted = head_revision() if revision == "head" else revision
    try:
        # a plain read first: readers must not queue behind a build's write transaction
        if current_revision(engine) == wanted:
            return wanted
        with engine.connect() as plain:
            conn = plain.execution_options(**{IMMEDIATE: True})
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_UPGRADE_LOCK})
                tables = set(inspect(conn).get_table_names())
                cfg = alembic_config()
                cfg.attributes["connection"] = conn
                if "alembic_version" not in tables and "runs" in tables:
                    # made by the first release, before migrations: that schema is 0001
                    command.stamp(cfg, FIRST_REVISION)
                elif (
                    "alembic_version" in tables
                    and MigrationContext.configure(conn).get_current_revision() == wanted
                ):
                    return wanted
                command.upgrade(cfg, revision)
                found = MigrationContext.configure(conn).get_current_revision()
    except FamilyMatchError:
        raise
    except Exception as exc:
        if "Can't locate revision" in str(exc):
            raise FamilyMatchError(
                f"database {safe_url(engine)}: it was written by a newer familymatch "
                "(unknown schema revision); upgrade familymatch."
            ) from None
        raise
    finally:
        if not isinstance(target, Engine):
            engine.dispose()
    return found or wanted
