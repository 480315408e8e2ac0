"""Reading a TOML configuration file (project, rule set, priority, payment framework,
assumptions): one error context whose every error is a ConfigError naming the file and the
dotted key, and the checks every reader needs."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from familymatch.canonical import OUTCOME_CODES
from familymatch.errors import ConfigError


def read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    """The parsed file and its bytes (to hash); ``{path}: not valid TOML (...)`` otherwise."""
    data = path.read_bytes()
    try:
        return tomllib.loads(data.decode("utf-8")), data
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}).") from None


class ConfigContext:
    """The file being read; ``key`` arguments are dotted keys (``factors.absence.points``)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: {key}: {problem}")

    def keys(self, key: str, table: dict[str, Any], allowed: Iterable[str]) -> None:
        """Refuse a key not in ``allowed`` (``key`` empty at the top level)."""
        allowed = set(allowed)
        for k in table:
            if k not in allowed:
                where = f"{key}.{k}" if key else k
                raise self.fail(where, f"unknown key (allowed: {', '.join(sorted(allowed))}).")

    def table(
        self,
        key: str,
        value: Any,
        allowed: Iterable[str] | None = None,
        required: Iterable[str] = (),
    ) -> dict[str, Any]:
        """A table, optionally with only ``allowed`` keys and every ``required`` one."""
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table.")
        if allowed is not None:
            self.keys(key, value, allowed)
        for k in sorted(required):
            if k not in value:
                raise self.fail(f"{key}.{k}" if key else k, "is required.")
        return value

    def text(self, key: str, value: Any) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, "must be non-empty text.")
        return value

    def whole(self, key: str, value: Any, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.fail(key, f"must be a whole number (got {value!r}).")
        if value < minimum:
            raise self.fail(key, f"must be at least {minimum} (got {value}).")
        return value

    def number(self, key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(key, f"must be a number (got {value!r}).")
        return float(value)

    def boolean(self, key: str, value: Any) -> bool:
        if not isinstance(value, bool):
            raise self.fail(key, "must be true or false.")
        return value

    def names(self, key: str, value: Any, empty: bool = True) -> tuple[str, ...]:
        """A list of non-empty strings (``empty=False``: at least one)."""
        if (
            not isinstance(value, list)
            or (not value and not empty)
            or not all(isinstance(v, str) and v for v in value)
        ):
            raise self.fail(
                key, "must be a list of names." if empty else "must be a non-empty list of names."
            )
        return tuple(value)

    def outcome_codes(self, key: str, value: Any) -> tuple[str, ...]:
        """`outcomes = [...]`: canonical outcome codes (familymatch.canonical.OUTCOME_CODES);
        absent = () (no filter)."""
        if value is None:
            return ()
        codes = self.names(key, value, empty=False)
        for code in codes:
            if code not in OUTCOME_CODES:
                raise self.fail(
                    key, f"'{code}' is not an outcome code (one of {', '.join(OUTCOME_CODES)})."
                )
        return codes

    def day(self, key: str, value: Any) -> date:
        """A TOML date, or text YYYY-MM-DD."""
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(self.text(key, value))
        except ValueError:
            raise self.fail(key, f"'{value}' is not a date YYYY-MM-DD.") from None

    def typed(self, key: str, value: Any, kind: type, what: str) -> Any:
        """``value`` of ``kind`` (an int is accepted for float; a bool is never a number)."""
        if isinstance(value, bool) and kind is not bool:
            raise self.fail(key, f"must be {what}.")
        if kind is float and isinstance(value, int):
            return float(value)
        if not isinstance(value, kind):
            raise self.fail(key, f"must be {what}.")
        return value
