"""How close the mapping assistant's drafts come to a project's own mapping.

    .venv/bin/python bench/inspect_agreement.py work/hs/familymatch.toml [more.toml ...]

For every source of each project: inspect its file (same sheet and header row), load the draft
``[[sources]]`` block, and compare the (block, field, column) triples the two mappings read:
block is ``columns``, ``people:<role>`` or ``periods:<label>``; a field of [sources.columns]
drafted in a person slot (or the reverse) counts as a difference. One JSON line per source and
a total: triples in the project, in the draft, in both.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

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


def drafted(spec: SourceSpec, reference: str) -> SourceSpec:
    found = inspect_file(spec.path, spec.sheet, spec.header_row)
    with tempfile.TemporaryDirectory() as tmp:
        text = f'[project]\nreference_date = "{reference}"\n\n' + draft_toml(found, str(spec.path))
        path = Path(tmp) / "draft.toml"
        path.write_text(text, encoding="utf-8")
        return load_project(path).sources[0]


def main() -> None:
    total = {"project": 0, "draft": 0, "both": 0}
    for arg in sys.argv[1:]:
        project = load_project(arg)
        for spec in project.sources:
            want = triples(spec)
            got = triples(drafted(spec, project.reference_date.isoformat()))
            line = {"source": spec.name, "project": len(want), "draft": len(got)}
            line |= {"both": len(want & got), "missed": sorted(map(list, want - got))}
            line |= {"extra": sorted(map(list, got - want))}
            print(json.dumps(line))
            for k in total:
                total[k] += int(line[k])  # type: ignore[call-overload]
    print(json.dumps({"total": total}))


if __name__ == "__main__":
    main()
