"""Keyed pseudonyms: HMAC-SHA-256 of an identifier under a key the coordinator holds.

The key lives outside every output (default ``~/.config/familymatch/pseudonym.key``, or the path
in ``FAMILYMATCH_PSEUDONYM_KEY``), is created on first use with 32 random bytes and owner-only
permissions, and is never written into a database, log or file the tool produces. One key gives
the same pseudonym for the same person in every run; another key gives unlinkable ones. Never an
unkeyed hash: a household reference or a date of birth is easy to guess and hash.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import polars as pl

from familymatch.errors import FamilyMatchError

KEY_ENV = "FAMILYMATCH_PSEUDONYM_KEY"
DEFAULT_KEY = Path.home() / ".config" / "familymatch" / "pseudonym.key"


def key_path() -> Path:
    return Path(os.environ.get(KEY_ENV, DEFAULT_KEY))


def load_or_create_key(path: Path | None = None) -> bytes:
    """The key at ``path``; created (32 random bytes, 0600, folder 0700) if it does not exist."""
    path = path or key_path()
    if path.exists():
        if path.stat().st_mode & 0o077:
            raise FamilyMatchError(
                f"pseudonym key {path}: is readable by others; run `chmod 600 {path}`."
            )
        key = path.read_bytes()
        if len(key) < 32:
            raise FamilyMatchError(f"pseudonym key {path}: is shorter than 32 bytes.")
        return key
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, key)
    finally:
        os.close(fd)
    os.chmod(path, 0o600)
    return key


def pseudonym(key: bytes, value: str, prefix: str = "") -> str:
    """A stable 16-hex-character pseudonym for ``value`` under ``key``."""
    digest = hmac.new(key, value.encode("utf-8"), hashlib.sha256).hexdigest()[:16]
    return f"{prefix}{digest}"


def pseudonymise(frame: pl.DataFrame, columns: dict[str, str], key: bytes) -> pl.DataFrame:
    """Replace each column with its keyed pseudonym (``columns``: name -> prefix, e.g. 'F-')."""
    out = frame
    for col, prefix in columns.items():
        uniq = frame[col].drop_nulls().unique().to_list()
        table = {v: pseudonym(key, str(v), prefix) for v in uniq}
        out = out.with_columns(
            pl.col(col).cast(pl.String).replace_strict(table, default=None, return_dtype=pl.String)
        )
    return out
