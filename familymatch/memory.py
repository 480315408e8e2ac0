"""Freed memory given back to the system between the build's stages.

numpy arrays smaller than glibc's mmap threshold (which glibc raises up to 32 MB as large blocks
are freed: at county scale a column of record indices is 8-16 MB) and Python objects live in
glibc's heap, whose freed pages stay resident until ``malloc_trim`` returns them (scale 10: 330
MB free in the heap after the ingest). polars' own allocator (jemalloc) returns its pages by
itself after a delay.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import cache


@cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    name = ctypes.util.find_library("c")
    try:
        lib = ctypes.CDLL(name or "libc.so.6")
    except OSError:
        return None
    return lib if hasattr(lib, "malloc_trim") else None  # glibc only (not musl)


def release_free_memory() -> None:
    """Return the C heap's free pages to the system (a no-op where there is no glibc)."""
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
