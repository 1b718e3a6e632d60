"""Throughput of every cropper, and how it scales with image size (issue 13).

For each cropper and image size, images/s in-process after the cropper is built and warmed
up (decode → saliency → point → crops for the four default ratios), on generated photo-like
JPEGs. The scaling exponent b fits seconds/image ∝ megapixels^b across sizes: b ≈ 0 means
the cropper works at a fixed resolution (decode aside), b ≈ 1 linear in pixels.

fastgaze runs when its model is found (CROPAUDIT_FASTGAZE or models/fastgaze.vxm);
``command`` is measured with a trivial Python script (its cost is process start-up).

Usage: python benchmarks/bench_croppers.py [--croppers NAME ...] [--sizes 320 800 1600 3200]
                                           [--seconds S] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RATIOS = (0.56, 1.0, 1.14, 2.0)


def make_photos(long_side: int, n: int, folder: Path) -> list[Path]:
    """Photo-like 3:2 JPEGs (gradient, shapes, a face-coloured blob, noise)."""
    from PIL import Image, ImageDraw, ImageFilter

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(long_side)
    w, h = long_side, long_side * 2 // 3
    paths = []
    for i in range(n):
        y, x = np.mgrid[0:h, 0:w]
        base = np.stack([x / w * 200, y / h * 180, (x + y) / (w + h) * 160], -1)
        img = Image.fromarray(base.astype(np.uint8))
        draw = ImageDraw.Draw(img)
        for _ in range(6):
            x0, y0 = rng.integers(0, w), rng.integers(0, h)
            r = int(rng.integers(w // 20, w // 6))
            draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r],
                         fill=tuple(int(v) for v in rng.integers(0, 255, 3)))
        arr = np.asarray(img.filter(ImageFilter.GaussianBlur(2)), dtype=np.float32)
        arr += rng.normal(0, 6, arr.shape)
        path = folder / f"photo-{long_side}-{i}.jpg"
        Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path, quality=90)
        paths.append(path)
    return paths


def build(name: str, tmp: Path):
    from cropaudit.croppers.base import CropperContext
    from cropaudit.croppers.registry import load_cropper
    from cropaudit.engine.model_store import ModelParams

    options = {}
    if name == "command":
        script = tmp / "point.py"
        script.write_text("import json; print(json.dumps({'x': 1, 'y': 1}))\n")
        options["template"] = f"{sys.executable} {script} {{image}}"
    model_path = os.environ.get("CROPAUDIT_FASTGAZE") or str(ROOT / "models" / "fastgaze.vxm")
    return load_cropper(name, CropperContext(model=ModelParams(), model_path=model_path,
                                             options=options))


def rate(cropper, paths: list[Path], seconds: float) -> float:
    """Images/s over whole passes through ``paths`` (at least one), after one warm-up image."""
    list(cropper.crop_images(paths[:1], aspect_ratios=RATIOS, progress=False))
    n, start = 0, time.perf_counter()
    while n == 0 or time.perf_counter() - start < seconds:
        for item in cropper.crop_images(paths, aspect_ratios=RATIOS, progress=False):
            if not hasattr(item, "crops"):
                raise SystemExit(f"{cropper.name}: {item.message}")
            n += 1
    return n / (time.perf_counter() - start)


def exponent(sizes: list[int], rates: list[float]) -> float:
    """Least-squares slope of log(seconds/image) against log(megapixels)."""
    mp = np.log([s * (s * 2 // 3) / 1e6 for s in sizes])
    sec = np.log([1 / r for r in rates])
    return float(np.polyfit(mp, sec, 1)[0])


def main() -> int:
    from cropaudit.croppers.params import default_croppers
    from cropaudit.croppers.registry import available

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--croppers", nargs="+", default=[*default_croppers(), "command"])
    parser.add_argument("--sizes", nargs="+", type=int, default=[320, 800, 1600, 3200])
    parser.add_argument("--images", type=int, default=4, help="images per size")
    parser.add_argument("--seconds", type=float, default=3.0, help="minimum time per cell")
    parser.add_argument("--json", type=Path, help="also write the results as JSON")
    args = parser.parse_args()
    tmp = Path("/tmp/cropaudit-bench-croppers")
    photos = {s: make_photos(s, args.images, tmp) for s in args.sizes}
    results = {}
    print(f"| cropper | {' | '.join(f'{s}×{s * 2 // 3}' for s in args.sizes)} | b |")
    print(f"|---|{'---|' * len(args.sizes)}---|")
    for name in args.croppers:
        if name not in available(warn=False):
            print(f"| {name} | not installed |")
            continue
        try:
            cropper = build(name, tmp)
        except Exception as exc:
            print(f"| {name} | skipped: {exc} |")
            continue
        rates = [rate(cropper, photos[s], args.seconds) for s in args.sizes]
        b = exponent(args.sizes, rates) if len(rates) > 1 else float("nan")
        results[name] = {"images_per_s": dict(zip(map(str, args.sizes), rates, strict=True)),
                         "exponent": b}
        print(f"| {name} | {' | '.join(f'{r:.2f}' for r in rates)} | {b:.2f} |", flush=True)
    print(f"\nimages/s on {os.cpu_count()} CPU(s), sizes are long side × short side; "
          "b: seconds/image ∝ MP^b")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
