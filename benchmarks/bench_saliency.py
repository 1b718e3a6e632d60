"""Throughput of the FastGaze port (issue 2 performance targets).

Measures
1. end to end (decode → resize → network → salient point → crops) on the reference images,
   in-process after the model is loaded, and the `cropaudit saliency` command's wall time
   including start-up;
2. the network alone at 320×213 and 320×160 inputs, as images/s and GFLOP/s.

The engine's runtime is the default one: LiteRT on CPU, TensorFlow (batched) when TensorFlow
sees a GPU, and then a GPU line is printed first.

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
    """Network alone: TF batches, or LiteRT one image at a time with every core."""
    x = np.random.default_rng(0).normal(0, 50, size=(batch, height, width, 3)).astype(np.float32)
    if model.runtime == "litert":
        net = model._lite_network(model.workers)
        run, batch = (lambda: net.run_one(x[0])), 1
    else:
        run = lambda: model.network.run_same_size(x)  # noqa: E731
    run()  # trace + warm up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        run()
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


def bench_command(model: str, images: list[str], what: str, repeat: int = 1) -> None:
    """`cropaudit saliency` as a user runs it: a new process, start-up included.

    Peak memory is the largest process so far (getrusage of children), so the single-image
    runs are timed first.
    """
    import resource

    cmd = [sys.executable, "-m", "cropaudit", "saliency", *images, "--model", model,
           "--out-dir", "/tmp/cropaudit-bench-out"]
    walls = []
    for _ in range(repeat):
        t = time.perf_counter()
        done = subprocess.run(cmd, check=False, capture_output=True)
        walls.append(time.perf_counter() - t)
    wall = statistics.median(walls)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"`cropaudit saliency` on {what} ({len(images)} images, exit {done.returncode}): "
          f"{wall:.2f} s wall incl. start-up ({len(images) / wall:.1f} images/s), "
          f"peak {peak:.0f} MiB")


def images_of(folder: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).iterdir())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.environ.get("CROPAUDIT_FASTGAZE")
                        or str(SHARED / "models" / "fastgaze.vxm"))
    parser.add_argument("--images", default=str(SHARED / "reference" / "images"))
    parser.add_argument("--one", default=str(SHARED / "reference" / "images" / "grace_hopper.jpg"),
                        help="the single typical photo of the start-up measurement")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=3, help="passes over the image set")
    parser.add_argument("--typical", type=int, default=96,
                        help="also time N generated 1200×800 JPEG photos (3:2, typical size)")
    args = parser.parse_args()

    from cropaudit.engine.fastgaze import tensorflow_sees_gpu
    from cropaudit.engine.loader import load_model
    from cropaudit.engine.model_store import ModelParams

    if tensorflow_sees_gpu():
        print("GPU: TensorFlow sees a GPU; the engine runs the batched TensorFlow path there")
    model = load_model(ModelParams(batch_size=args.batch_size), args.model)
    print(f"device: {model.device}; runtime {model.runtime}, precision {model.precision}, "
          f"{model.workers} workers; batch size {args.batch_size} (TensorFlow only)")
    bench_command(args.model, [args.one], "one typical photo, median of 3", repeat=3)
    bench_command(args.model, images_of(args.images), "the reference images, first pass")
    images = images_of(args.images)
    list(model.predict(images[:4]))  # load the runtime's kernels
    # The first pass meets each of the set's ~40 input sizes for the first time (TF and
    # oneDNN prepare per shape; LiteRT only re-allocates); later passes do not.
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

    for h, w in [(213, 320), (160, 320), (320, 320)]:
        r, gflops = bench_network(model, h, w, args.batch_size, args.seconds)
        print(f"network alone {w}×{h}: {r:.1f} images/s, {gflops:.0f} GFLOP/s")

    orig = original_rate(SHARED / "reference" / "timings.tsv")
    if orig:
        print(f"original program, 2 processes on 2 cores: {orig:.1f} images/s "
              f"→ speed-up end to end {rate / orig:.1f}×")


if __name__ == "__main__":
    main()
