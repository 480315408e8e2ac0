"""Where a build's memory goes, call by call: peak resident memory inside each of the pipeline's
functions (nested), for one build of an existing council folder.

    .venv/bin/python bench/memory_by_call.py work/bench/stages_1
    flock /work/heavy.lock .venv/bin/python bench/memory_by_call.py work/bench/stages_10 \\
        familymatch.addresses.match_variants familymatch.link.blocking.candidate_pairs

Every wrapped function (the defaults below, plus any ``module.function`` named) is measured
exactly: on entry the process's high-water mark (VmHWM) is read into the caller's running peak
and reset (``5`` written to /proc/self/clear_refs), on exit it is read again. One line per call
on stdout, in the order calls end: depth, function, MB resident on entry, peak inside, on exit,
seconds, MB of the frames / arrays it returned, and glibc's heap (its size and the free part,
which ``familymatch.memory.release_free_memory`` gives back). Stage-level figures:
``bench/bench_stages.py``.
"""

from __future__ import annotations

import ctypes
import functools
import importlib
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from bench_stages import _reset_peak, _status_kb  # the same exact peak, per stage there

DEFAULTS = {
    "familymatch.pipeline": [
        "ingest_project",
        "standardise",
        "resolve_addresses",
        "with_addresses",
        "with_claim_addresses",
        "link_records",
        "place_by_person",
        "build_households",
    ],
    "familymatch.link": [
        "block",
        "compare_patterns",
        "fit_model",
        "likely_pairs",
        "score_pairs",
        "cluster_records",
        "random_pair_levels",
    ],
    "rules.build": ["evaluate", "_add_households", "_add_rules"],
}
_open: list[int] = []  # the running peak (kB) of every call under way, innermost last


class _MallInfo2(ctypes.Structure):
    _fields_ = [
        (n, ctypes.c_size_t)
        for n in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks")
        + ("uordblks", "fordblks", "keepcost")
    ]


def _glibc_heap() -> str:
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return f"heap {info.arena >> 20} free {info.fordblks >> 20}"


def _returned_mb(value: Any) -> int:
    items = value if isinstance(value, tuple) else (value,)
    size = sum(x.estimated_size() for x in items if isinstance(x, pl.DataFrame))
    size += sum(x.nbytes for x in items if isinstance(x, np.ndarray))
    return size >> 20


def _measured(name: str, f: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(f)
    def call(*args: Any, **kwargs: Any) -> Any:
        if _open:
            _open[-1] = max(_open[-1], _status_kb("VmHWM"))
        _reset_peak()
        entry = _status_kb("VmRSS")
        _open.append(entry)
        t = time.perf_counter()
        try:
            out = f(*args, **kwargs)
        finally:
            peak = max(_open.pop(), _status_kb("VmHWM"))
            if _open:
                _open[-1] = max(_open[-1], peak)
            _reset_peak()
        seconds = time.perf_counter() - t
        print(
            f"{len(_open)} {name} {entry >> 10} {peak >> 10} {_status_kb('VmRSS') >> 10} "
            f"{seconds:.1f} {_returned_mb(out)} {_glibc_heap()}",
            flush=True,
        )
        return out

    return call


def wrap(module: str, name: str) -> None:
    mod = importlib.import_module(module)
    if hasattr(mod, name):  # another tree's pipeline may not have it
        setattr(mod, name, _measured(name, getattr(mod, name)))


def main() -> None:
    folder = Path(sys.argv[1])
    for module, names in DEFAULTS.items():
        for name in names:
            wrap(module, name)
    for extra in sys.argv[2:]:
        wrap(*extra.rsplit(".", 1))
    from rules.build import build_cohort

    for suffix in ("", "-wal", "-shm"):
        Path(str(folder / "familymatch.db") + suffix).unlink(missing_ok=True)
    print("depth function entry_mb peak_mb exit_mb seconds returned_mb glibc", flush=True)
    _reset_peak()
    result = build_cohort(folder / "familymatch.toml")
    link = result.linked.link.stats
    print(f"candidate pairs {link['candidate_pairs']:,}, kept {link['pairs_kept']:,}")


if __name__ == "__main__":
    main()
