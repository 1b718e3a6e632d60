"""Throughput of the FastGaze port (issue 2 performance targets).

Measures
1. end to end (decode → resize → network → salient point → crops) on the reference images,
   in-process after the model is loaded, and the `cropaudit saliency` command's wall time
   including start-up;
2. the network alone at 320×213 and 320×160 inputs, as images/s and GFLOP/s.

The original program took ≈ 0.26 s per image, one process per image, single-threaded
(../shared/reference/timings.tsv); with two processes on two cores that is ≈ 7.7 images/s.

Usage: python benchmarks/bench_saliency.py [--model PATH] [--images DIR] [--seconds S]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CROPAUDIT_SHARED") or ROOT.parent / "shared")


def original_rate(timings: Path) -> float | None:
    """Images/s of the original with one process per core (2 cores)."""
    if not timings.exists():
        return None
    rows = [ln.split("\t") for ln in timings.read_text().splitlines()[1:] if ln.strip()]
    secs = [float(r[5]) for r in rows if r[4] == "0"]  # plain runs that succeeded
    return 2.0 / statistics.mean(secs)


def bench_network(
    model, height: int, width: int, batch: int, seconds: float
) -> tuple[float, float]:
    x = np.random.default_rng(0).normal(0, 50, size=(batch, height, width, 3)).astype(np.float32)
    model.network.run_same_size(x)  # trace + warm up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        model.network.run_same_size(x)
        n += batch
    rate = n / (time.perf_counter() - start)
    return rate, rate * model.stack.flops(height, width) / 1e9


def make_typical_photos(n: int) -> list[str]:
    """Generated 1200×800 JPEGs with photo-like structure (smooth gradients, shapes, noise)."""
    from PIL import Image, ImageDraw, ImageFilter

    out = Path("/tmp/cropaudit-bench-typical")
    out.mkdir(exist_ok=True)
    rng = np.random.default_rng(1)
    paths = []
    for i in range(n):
        path = out / f"photo{i:03d}.jpg"
        if not path.exists():
            yy, xx = np.mgrid[0:800, 0:1200]
            base = np.stack([(xx * rng.uniform(0.05, 0.2) + yy * rng.uniform(0.05, 0.2)) % 256
                             for _ in range(3)], axis=-1)
            img = Image.fromarray((base + rng.normal(0, 12, base.shape)).clip(0, 255)
                                  .astype(np.uint8))
            draw = ImageDraw.Draw(img)
            for _ in range(6):
                x, y = rng.integers(0, 1100), rng.integers(0, 700)
                draw.ellipse([x, y, x + rng.integers(40, 300), y + rng.integers(40, 300)],
                             fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
            img.filter(ImageFilter.GaussianBlur(1)).save(path, quality=90)
        paths.append(str(path))
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.environ.get("CROPAUDIT_FASTGAZE")
                        or str(SHARED / "models" / "fastgaze.vxm"))
    parser.add_argument("--images", default=str(SHARED / "reference" / "images"))
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the image set")
    parser.add_argument("--typical", type=int, default=96,
                        help="also time N generated 1200×800 JPEG photos (3:2, typical size)")
    args = parser.parse_args()

    from cropaudit.saliency import load_model
    from cropaudit.saliency.model_store import ModelParams

    model = load_model(ModelParams(batch_size=args.batch_size), args.model)
    print(f"device: {model.device}; batch size {args.batch_size}")
    images = sorted(str(p) for p in Path(args.images).iterdir())
    list(model.predict(images[:4]))  # load TensorFlow's kernels
    # The first pass meets each of the set's ~40 input sizes for the first time (TF and
    # oneDNN prepare per shape); later passes, like a long run where sizes repeat, do not.
    start = time.perf_counter()
    list(model.predict(images))
    cold = len(images) / (time.perf_counter() - start)
    print(f"end to end, in-process, first pass (sizes new): {cold:.1f} images/s")
    start = time.perf_counter()
    for _ in range(args.repeat):
        results = list(model.predict(images))
    elapsed = time.perf_counter() - start
    ok = sum(hasattr(r, "salient_point") for r in results)
    rate = args.repeat * len(images) / elapsed
    print(f"end to end, in-process, sizes seen: {len(images)} images × {args.repeat}: "
          f"{rate:.1f} images/s ({1000 / rate:.1f} ms/image), {ok} ok")

    if args.typical:
        typical = make_typical_photos(args.typical)
        start = time.perf_counter()
        results = list(model.predict(typical))
        rate_typ = len(typical) / (time.perf_counter() - start)
        print(f"end to end, in-process: {len(typical)} typical 1200×800 JPEGs: "
              f"{rate_typ:.1f} images/s ({1000 / rate_typ:.1f} ms/image)")

    cmd = [sys.executable, "-m", "cropaudit", "saliency", *images, "--model", args.model,
           "--out-dir", "/tmp/cropaudit-bench-out"]
    t = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    wall = time.perf_counter() - t
    print(f"`cropaudit saliency` on {len(images)} images, wall incl. start-up: {wall:.1f} s "
          f"({len(images) / wall:.1f} images/s)")

    for h, w in [(213, 320), (160, 320), (320, 320)]:
        r, gflops = bench_network(model, h, w, args.batch_size, args.seconds)
        print(f"network alone {w}×{h}: {r:.1f} images/s, {gflops:.0f} GFLOP/s")

    orig = original_rate(SHARED / "reference" / "timings.tsv")
    if orig:
        print(f"original program, 2 processes on 2 cores: {orig:.1f} images/s "
              f"→ speed-up end to end {rate / orig:.1f}×")


if __name__ == "__main__":
    main()
