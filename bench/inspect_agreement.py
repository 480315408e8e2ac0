"""How close the mapping assistant's drafts come to a project's own mapping.

    .venv/bin/python bench/inspect_agreement.py work/hs/familymatch.toml [more.toml ...]

For every source of each project: inspect its file (same sheet and header row), load the draft
``[[sources]]`` block, and compare the (block, field, column) triples the two mappings read:
block is ``columns``, ``people:<role>`` or ``periods:<label>``; a field of [sources.columns]
drafted in a person slot (or the reverse) counts as a difference. One JSON line per source and
a total: triples in the project, in the draft, in both. Then both mappings are ingested and
their records compared by record id: records in both, and for the dates (dob, event_date,
end_date) the share of those records whose value is the same (both null counts as the same).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
from datetime import date
from pathlib import Path

import polars as pl

from familymatch.ingest import ingest_source
from familymatch.ingest.inspect import draft_toml, inspect_file
from familymatch.project import FieldSpec, SourceSpec, load_project


def triples(spec: SourceSpec) -> set[tuple[str, str, str]]:
    groups: list[tuple[str, dict[str, FieldSpec]]] = [("columns", spec.columns)]
    groups += [(f"people:{slot.role}", slot.fields) for slot in spec.people]
    groups += [(f"periods:{p.label.lower()}", p.fields) for p in spec.periods]
    return {
        (block, name, col)
        for block, fields in groups
        for name, field in fields.items()
        for col in field.columns()
    }


def same_dates(spec: SourceSpec, draft: SourceSpec, reference: date) -> dict[str, object]:
    """Records both mappings give, and the share of them with equal dates."""
    key = pl.col("record_id").str.to_lowercase()  # period labels: the header's own case
    mine = ingest_source(spec, reference).records.with_columns(key)
    draft = dataclasses.replace(draft, name=spec.name)
    theirs = ingest_source(draft, reference).records.with_columns(key)
    both = mine.join(theirs, on="record_id", suffix="_draft")
    dates = ("dob", "event_date", "end_date")
    equal = {
        d: both.select(pl.col(d).eq_missing(pl.col(f"{d}_draft")).mean()).item() for d in dates
    }
    return {"records": mine.height, "records_both": both.height, "dates_equal": equal}


def drafted(spec: SourceSpec, reference: str) -> SourceSpec:
    found = inspect_file(spec.path, spec.sheet, spec.header_row)
    with tempfile.TemporaryDirectory() as tmp:
        text = f'[project]\nreference_date = "{reference}"\n\n' + draft_toml(found, str(spec.path))
        path = Path(tmp) / "draft.toml"
        path.write_text(text, encoding="utf-8")
        return load_project(path).sources[0]


def main() -> None:
    total = {"project": 0, "draft": 0, "both": 0, "records": 0, "records_both": 0}
    for arg in sys.argv[1:]:
        project = load_project(arg)
        for spec in project.sources:
            draft = drafted(spec, project.reference_date.isoformat())
            want, got = triples(spec), triples(draft)
            line = {"source": spec.name, "project": len(want), "draft": len(got)}
            line |= {"both": len(want & got), "missed": sorted(map(list, want - got))}
            line |= {"extra": sorted(map(list, got - want))}
            line |= same_dates(spec, draft, project.reference_date)
            print(json.dumps(line))
            for k in total:
                total[k] += int(line[k])  # type: ignore[call-overload]
    print(json.dumps({"total": total}))


if __name__ == "__main__":
    main()
