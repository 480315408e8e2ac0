"""Work on the machine's cores from threads: the link stage's chunks and rules are polars,
numpy and rapidfuzz calls that release the GIL, and each one's single-threaded parts (numpy's
gathers and sorts, the Python between calls) leave a core idle that another can use
(decision 0016, session 6)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

# chunks (or rules) worked on at once: the development machine's two cores. Each caller sizes
# its chunks so that two at a time hold what one did before
THREADS = 2
T = TypeVar("T")
A = TypeVar("A")


def per_thread(chunk: int) -> int:
    """The share of ``chunk`` each of ``THREADS`` chunks worked on at once takes, so that they
    hold together what one chunk of ``chunk`` did (at least 1)."""
    return max(chunk // THREADS, 1)


def on_threads(work: Callable[[A], T], items: Iterable[A]) -> list[T]:
    """``work`` of each item, in the items' order, ``THREADS`` at a time. Each item's result is
    its own: the order in which they finish changes nothing."""
    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(work, items))
