"""Time ``prepare_file`` (decode + fit to 320 + orientation + symmetry + normalise) per image.

The end-to-end target is about 30 images/s on 2 cores, so preprocessing should stay well
under the network's cost: aim for <= 10 ms for a typical photo.

    PYTHONPATH=src python benchmarks/bench_preprocess.py [IMAGE_DIR] [--repeat N]

IMAGE_DIR defaults to the original program's reference images (../shared/reference/images).
Each image is prepared once to warm the weight caches, then timed ``--repeat`` times (best kept).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from cropaudit.imaging.preprocess import prepare_file

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CROPAUDIT_SHARED") or REPO.parent / "shared")
DEFAULT_DIR = SHARED / "reference" / "images"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("image_dir", nargs="?", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per image (best kept)")
    parser.add_argument("--max-pixels", type=int, default=100_000_000)
    parser.add_argument("--verbose", action="store_true", help="print every image's time")
    args = parser.parse_args()

    images = sorted(p for p in args.image_dir.iterdir() if p.is_file())
    if not images:
        parser.error(f"no images in {args.image_dir}")
    times: dict[str, float] = {}
    for path in images:
        prepare_file(path, args.max_pixels)  # warm-up: weight tables, file cache
        best = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            prepared = prepare_file(path, args.max_pixels)
            best = min(best, time.perf_counter() - start)
        times[path.name] = best * 1000
        if args.verbose:
            size = f"{prepared.width}x{prepared.height}"
            print(f"{path.name:45s} {size:>11s} {best * 1000:7.2f} ms")

    values = sorted(times.values())
    slowest = sorted(times.items(), key=lambda kv: kv[1])[-3:]
    print(f"{len(values)} images from {args.image_dir}")
    print(f"median {statistics.median(values):.2f} ms, mean {statistics.fmean(values):.2f} ms, "
          f"p90 {values[int(0.9 * (len(values) - 1))]:.2f} ms, max {values[-1]:.2f} ms")
    print("slowest: " + ", ".join(f"{name} {ms:.1f} ms" for name, ms in slowest))
    print(f"=> {1000 / statistics.fmean(values):.0f} images/s on one core")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
