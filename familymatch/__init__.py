"""familymatch core: ingest, standardise, link, households, store, reports.

Nothing in this package knows about programme rules (``rules``) or money (``claims``).
"""

__version__ = "0.1.0"
