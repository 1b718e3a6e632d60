"""Benchmark: two-way cluster bootstrap, 10,000 resamples over 60,000 pairs.

Six comparisons of 10,000 pairs each between four groups (the paper's design), with images
reused across pairs. Target: well under a few seconds. Run:

    PYTHONPATH=src python benchmarks/bench_bootstrap.py [--images-per-group 1000 ...]
"""

from __future__ import annotations

import argparse
import time
from itertools import combinations

import numpy as np

from cropaudit.stats.bootstrap import BootstrapUnit, cluster_bootstrap


def make_units(images_per_group: int, pairs_per_comparison: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    groups = 4
    effect = rng.normal(0, 0.5, groups * images_per_group)
    units = []
    for a, b in combinations(range(groups), 2):
        ia = rng.integers(0, images_per_group, pairs_per_comparison) + a * images_per_group
        ib = rng.integers(0, images_per_group, pairs_per_comparison) + b * images_per_group
        p = 1 / (1 + np.exp(-(effect[ia] - effect[ib])))
        units.append(BootstrapUnit(ia, ib, (rng.random(pairs_per_comparison) < p).astype(int)))
    return units, np.repeat(np.arange(groups), images_per_group)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images-per-group", type=int, nargs="+", default=[250, 1000, 4000])
    parser.add_argument("--pairs-per-comparison", type=int, default=10_000)
    parser.add_argument("--resamples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    cluster_bootstrap(*make_units(50, 100), resamples=10)  # warm up imports (scipy)
    for images in args.images_per_group:
        units, group = make_units(images, args.pairs_per_comparison)
        pairs = sum(len(u.y) for u in units)
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            res = cluster_bootstrap(units, group, resamples=args.resamples, seed=1)
            times.append(time.perf_counter() - t0)
        deff = np.mean([r.design_effect for r in res])
        print(
            f"{args.resamples} resamples x {pairs} pairs, {images} images/group: "
            f"best {min(times):.2f} s, median {np.median(times):.2f} s "
            f"(mean design effect {deff:.2f})"
        )


if __name__ == "__main__":
    main()
