"""Keyed pseudonyms: stable under one key, unlinkable across keys, key file owner-only."""

from __future__ import annotations

import os
from pathlib import Path

import polars as pl
import pytest

from familymatch.errors import FamilyMatchError
from familymatch.pseudonyms import load_or_create_key, pseudonym, pseudonymise


def test_key_created_owner_only_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        key = load_or_create_key(tmp_path / "keys" / "p.key")
    finally:
        os.umask(old)
    assert len(key) == 32
    assert os.stat(tmp_path / "keys" / "p.key").st_mode & 0o777 == 0o600
    assert load_or_create_key(tmp_path / "keys" / "p.key") == key


def test_same_key_same_pseudonym_other_key_unlinkable(tmp_path: Path) -> None:
    k1 = load_or_create_key(tmp_path / "a.key")
    k2 = load_or_create_key(tmp_path / "b.key")
    frame = pl.DataFrame({"household_id": ["H1", "H2", "H1"], "person_id": ["P1", "P2", "P3"]})
    run1 = pseudonymise(frame, {"household_id": "F-", "person_id": "P-"}, k1)
    run2 = pseudonymise(frame, {"household_id": "F-", "person_id": "P-"}, k1)
    other = pseudonymise(frame, {"household_id": "F-", "person_id": "P-"}, k2)
    assert run1.equals(run2)
    assert run1["household_id"][0] == run1["household_id"][2] != run1["household_id"][1]
    assert set(run1["household_id"]) & set(other["household_id"]) == set()
    assert run1["person_id"][0] == pseudonym(k1, "P1", "P-")
    assert "H1" not in run1.write_csv()


def test_a_key_others_can_read_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "p.key"
    load_or_create_key(path)
    os.chmod(path, 0o644)
    with pytest.raises(FamilyMatchError, match="is readable by others"):
        load_or_create_key(path)
