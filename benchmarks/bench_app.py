"""Response times of the crop explorer's callbacks (what a user waits for after each action).

Measures, in-process with the callbacks called directly (no browser, no HTTP):
1. upload of a 12-megapixel JPEG (decode + store) and of scikit-image's astronaut (PNG);
2. the single-image view: first FastGaze run (model already loaded) and from the cache;
3. the pair view of two images;
4. the PNG and JSON downloads.

Usage: python benchmarks/bench_app.py [--model PATH] [--repeat N]
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from skimage import data

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CROPAUDIT_SHARED") or ROOT.parent / "shared")


def _url(payload: bytes, mime: str) -> str:
    import base64

    return f"data:{mime};base64," + base64.b64encode(payload).decode("ascii")


def _timed(fn, repeat: int) -> tuple[float, object]:  # noqa: ANN001
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_model = os.environ.get("CROPAUDIT_FASTGAZE") or str(SHARED / "models/fastgaze.vxm")
    parser.add_argument("--model", default=default_model)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from cropaudit.app.server import create_app
    from cropaudit.config import parse_params

    backend = "fastgaze" if Path(args.model).is_file() else "center"
    params = parse_params({"model": {"backend": backend}})
    tmp = tempfile.mkdtemp(prefix="bench-app-")
    app = create_app(params, args.model if backend == "fastgaze" else None, root=tmp,
                     temp_root=tmp)
    e = app.explorer
    start = time.perf_counter()
    e.analyzer.models.get(backend)
    print(f"backend {backend}: model load {time.perf_counter() - start:.2f} s")

    rng = np.random.default_rng(0)
    big = np.asarray(Image.fromarray(data.astronaut()).resize((4000, 3000)))
    big = np.clip(big.astype(int) + rng.integers(-8, 8, big.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "JPEG", quality=90)
    jpeg_url = _url(buf.getvalue(), "image/jpeg")
    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, "PNG")
    png_url = _url(buf.getvalue(), "image/png")

    t, (images, _, _) = _timed(lambda: e.on_upload([jpeg_url], ["big.jpg"], []), 1)
    print(f"upload 4000×3000 JPEG ({len(jpeg_url) * 3 // 4 / 2**20:.1f} MB): {t:.2f} s")
    t, (more, _, _) = _timed(lambda: e.on_upload([png_url], ["astronaut.png"], images), 1)
    print(f"upload 512×512 PNG: {t:.3f} s")
    keys = [d["key"] for d in more]

    for key, label in zip(keys, ["4000×3000 JPEG", "512×512 PNG"], strict=True):
        t, _ = _timed(lambda k=key: e.on_view_image(k, backend, 5, 0.5), 1)
        print(f"single view {label}, first run: {t:.2f} s")
        t, _ = _timed(lambda k=key: e.on_view_image(k, backend, 5, 0.5), args.repeat)
        print(f"single view {label}, cached result (figures only): {t:.2f} s")
    t, _ = _timed(lambda: e.on_view_pair(keys, "horizontal", "fixed_height", 512, 0, backend,
                                         5, 0.5), 1)
    print(f"pair view, first run: {t:.2f} s")
    t, _ = _timed(lambda: e.on_view_pair(keys, "horizontal", "fixed_height", 512, 0, backend,
                                         5, 0.5), args.repeat)
    print(f"pair view, cached: {t:.2f} s")
    t, _ = _timed(lambda: e.on_download_image_png(1, keys[0], backend, 5, 0.5), args.repeat)
    print(f"download PNG (4000×3000): {t:.2f} s")
    t, _ = _timed(lambda: e.on_download_image_json(1, keys[0], backend, 5), args.repeat)
    print(f"download JSON: {t:.3f} s")
    app.close()


if __name__ == "__main__":
    main()
