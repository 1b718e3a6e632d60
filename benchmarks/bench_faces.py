"""Time the face and gaze steps per image: MTCNN detection, gaze segmentation, review sheets.

Targets on 2 CPU cores: face detection well under 0.5 s for a 960-pixel photo (a WikiCeleb
thumbnail), segmentation under 50 ms, a review sheet under 1 s, so the face stages stay small
next to the saliency stage.

    PYTHONPATH=src python benchmarks/bench_faces.py [--images N] [--side 960]

Uses scikit-image's astronaut photo scaled to --side pixels (long side), plus N generated
demo portraits; reports the median time per image of each step.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _timed(fn, *args, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> int:
    from cropaudit.datasets import demo
    from cropaudit.engine.center import CenterModel
    from cropaudit.faces.detect import MtcnnDetector
    from cropaudit.gaze.analysis import GazeParams, salient_regions
    from cropaudit.gaze.review import draw_sheet

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8, help="demo portraits to time")
    parser.add_argument("--side", type=int, default=960, help="long side of the photo")
    args = parser.parse_args()

    started = time.perf_counter()
    detector = MtcnnDetector()
    print(f"detector load (TensorFlow import + weights): {time.perf_counter() - started:.2f} s")
    photo = np.asarray(Image.fromarray(data.astronaut()).resize((args.side, args.side)))
    detector.detect(photo)  # warm-up: graph tracing
    print(f"MTCNN on a {args.side}x{args.side} photo: {_timed(detector.detect, photo):.3f} s")

    portraits = []
    for i in range(args.images):
        layout = demo.draw_layout(np.random.default_rng([2021, i]))
        portraits.append(np.asarray(demo.draw_portrait(layout, np.random.default_rng(i), True)))
    per = [_timed(detector.detect, p, repeat=1) for p in portraits]
    print(f"MTCNN on demo portraits: median {statistics.median(per) * 1000:.0f} ms")

    model, params = CenterModel(), GazeParams()
    results = [next(iter(model.predict([p]))) for p in [photo, *portraits]]
    seg = [_timed(salient_regions, r, params) for r in results]
    print(f"gaze segmentation: median {statistics.median(seg) * 1000:.1f} ms "
          f"({args.side}-px photo {seg[0] * 1000:.1f} ms)")
    with tempfile.TemporaryDirectory() as tmp:
        r = results[0]
        sheet = _timed(lambda: draw_sheet(Path(tmp) / "s.png", photo, r,
                                          salient_regions(r, params), r.crops([0.56, 1, 2]),
                                          min_area=1000, title="bench"), repeat=2)
    print(f"review sheet ({args.side}-px photo, 3 crops): {sheet:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
