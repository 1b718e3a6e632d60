"""How many cores and how much memory a job is given, and an ordered, bounded thread map.

Decoding, resizing and compositing are NumPy/Pillow work and the network runs in LiteRT or
TensorFlow; all release the GIL for their heavy parts, so plain threads overlap them. Each
thread with an image in flight holds that image's decoded pixels, so a thread count must fit
the memory as well as the cores (:func:`workers_within`): two threads on 100-megapixel PNGs
need about twice what one does.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from cropaudit.errors import ConfigError

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


#: Memory a job may use, in MB: a workflow sets it from the job's ``mem_mb`` resource.
ENV_MEMORY_MB = "CROPAUDIT_MEMORY_MB"
#: Where a container's or a Slurm job's memory limit is (cgroup v2, then v1).
CGROUP_LIMITS = ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes")


def _cgroup_limit_mb() -> float | None:
    for path in CGROUP_LIMITS:
        try:
            with open(path) as f:
                text = f.read().strip()
        except OSError:
            continue
        if text.isdigit() and int(text) < 2**60:  # v1 writes a huge number for "no limit"
            return int(text) / 2**20
    return None


def _available_mb() -> float | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def memory_budget_mb() -> float | None:
    """Memory this process may use, in MB: ``CROPAUDIT_MEMORY_MB``, else the cgroup's limit
    (containers, Slurm), else what the machine has available now; None if nothing says."""
    text = os.environ.get(ENV_MEMORY_MB, "").strip()
    if text:
        try:
            value = float(text)
        except ValueError:
            value = -1.0
        if not value > 0:
            raise ConfigError(f"{ENV_MEMORY_MB}: {text!r} is not a positive number of MB")
        return value
    limits = [m for m in (_cgroup_limit_mb(), _available_mb()) if m is not None]
    return min(limits) if limits else None


def workers_within(per_worker_mb: float, *, reserved_mb: float = 0.0,
                   cores: int | None = None, budget_mb: float | None = None) -> int:
    """Threads that fit the cores and the memory: at most :func:`available_cores`, and no
    more than the budget (:func:`memory_budget_mb`, less ``reserved_mb`` for the process
    itself) holds at ``per_worker_mb`` each; at least one, which may still not fit."""
    cores = cores or available_cores()
    budget = budget_mb if budget_mb is not None else memory_budget_mb()
    if budget is None or per_worker_mb <= 0:
        return cores
    return max(1, min(cores, int((budget - reserved_mb) // per_worker_mb)))


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
