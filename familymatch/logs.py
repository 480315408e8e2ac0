"""Logging set-up. Log lines name records by source and row, households by reference: never a
name, date of birth, identifier, address or postcode (tests check the demo's debug log)."""

from __future__ import annotations

import logging

from rich.console import Console
from rich.logging import RichHandler

LOGGER_NAME = "familymatch"


def setup_logging(level: str = "WARNING") -> logging.Logger:
    """Configure the ``familymatch`` logger to write to stderr through rich."""
    logger = logging.getLogger(LOGGER_NAME)
    logger.handlers.clear()
    # rich's default console is stdout: logs would corrupt `--json` output
    handler = RichHandler(
        console=Console(stderr=True), show_path=False, rich_tracebacks=False, markup=False
    )
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level.upper())
    logger.propagate = False
    return logger


def get_logger(name: str) -> logging.Logger:
    """A child logger of ``familymatch`` for module ``name``."""
    return logging.getLogger(f"{LOGGER_NAME}.{name.removeprefix('familymatch.')}")
