"""How many cores a job is given, and an ordered, bounded thread map to keep them busy.

Decoding, resizing and compositing are NumPy/Pillow work and the network runs in LiteRT or
TensorFlow; all release the GIL for their heavy parts, so plain threads overlap them.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def _cpus() -> int:
    """CPUs this process may run on: the affinity mask (containers, taskset, Slurm), else the
    machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def available_cores() -> int:
    """Cores this process is given: OMP_NUM_THREADS (set by Snakemake for a job's `threads`),
    else the CPUs it may run on; never more than those CPUs (a stray OMP_NUM_THREADS=10000
    must not start ten thousand threads)."""
    n = os.environ.get("OMP_NUM_THREADS", "").strip()
    cpus = _cpus()
    if n.isdigit() and int(n) > 0:
        return min(int(n), cpus)
    return cpus


def ordered_map(fn: Callable[[_T], _R], items: Iterable[_T], *, workers: int,
                ahead: int | None = None, name: str = "worker") -> Iterator[_R]:
    """``map(fn, items)`` computed by ``workers`` threads, results in input order.

    At most ``ahead`` items (default 2 per worker: one running, one queued) are taken from
    ``items`` before their results are consumed, so memory is bounded whatever the number of
    items, and a lazy ``items`` is pulled only as fast as results are used.
    """
    workers = max(1, workers)
    ahead = max(1, ahead or 2 * workers)
    pending: deque[Future[_R]] = deque()
    with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
        for item in items:
            pending.append(pool.submit(fn, item))
            if len(pending) >= ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
