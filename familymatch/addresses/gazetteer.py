"""The optional gazetteer: the council's LLPG or AddressBase extract (UPRN, address, postcode),
read with the same readers and field specifications as the extracts (``[project] gazetteer``,
``[gazetteer.columns]``; docs/contracts.md section 1)."""

from __future__ import annotations

import polars as pl

from familymatch.errors import InputFileError
from familymatch.ingest.fields import text
from familymatch.ingest.readers import read_source
from familymatch.logs import get_logger
from familymatch.project import SourceSpec

log = get_logger(__name__)


def read_gazetteer(spec: SourceSpec | None) -> pl.DataFrame | None:
    """uprn, address, postcode: one row per gazetteer address with a UPRN and an address."""
    if spec is None:
        return None
    raw = read_source(spec).frame
    rows = raw.select(
        *(text(spec.columns[f]).cast(pl.String).alias(f) for f in ("uprn", "address", "postcode"))
    ).with_columns(pl.col("uprn").str.replace(r"\.0$", ""))
    usable = rows.drop_nulls(["uprn", "address"])
    if usable.height == 0:
        raise InputFileError(
            f"gazetteer ({spec.path.name}): no row has both a UPRN and an address; check "
            "[gazetteer.columns]."
        )
    if usable.height < rows.height:
        log.info(
            "gazetteer: %d rows without a UPRN or an address skipped", rows.height - usable.height
        )
    return usable
