"""Execution backends for the link stage beyond one process's memory.

``outofcore``: the link stage's core (the engine's blocking rules, comparison levels, model and
clustering guards) run with DuckDB holding the records, candidate pairs and comparison levels on
disk, so that peak memory stays bounded while the records grow (docs/decisions/0017). Needs the
optional ``national`` extra (``pip install -e '.[national]'``).
"""
