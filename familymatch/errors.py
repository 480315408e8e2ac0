"""The one exception type a user ever sees.

Every problem with the user's input (a project file, an extract, a rule set, a workbook) is
raised as :class:`FamilyMatchError` carrying one clear sentence that names the file, key or
row (never the personal data in it). The CLI prints the sentence and exits non-zero.
"""

from __future__ import annotations

from datetime import date


class FamilyMatchError(Exception):
    """A problem with the user's input, explained in one sentence."""

    exit_code = 2

    def __init__(self, message: str, details: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or []  # lines shown before the sentence (e.g. rows in error)

    def __str__(self) -> str:
        return self.message


class ConfigError(FamilyMatchError):
    """A project file, rule set, framework or other TOML configuration is invalid."""


class InputFileError(FamilyMatchError):
    """A source extract cannot be used at all (missing, unreadable, wrong sheet, column absent)."""


def date_option(value: str | None, option: str) -> date | None:
    """A command-line date (YYYY-MM-DD), or None when the option was not given."""
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise FamilyMatchError(
            f"{option}: '{value}' is not a date in the form YYYY-MM-DD."
        ) from None
