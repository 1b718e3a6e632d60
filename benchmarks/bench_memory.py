"""Peak memory of every cropper on the largest images the pixel limit allows (issue 25, item 10).

For each cropper, ``cropaudit saliency`` runs in a fresh process on one image, and the
process's peak resident memory (``VmHWM``) is read when it ends. The figure for an image is
that peak less the peak on a tiny image (interpreter, libraries and the model), so it is what
one image in flight adds: the number :data:`cropaudit.croppers.memory.IMAGE_MB` records per
cropper and :func:`cropaudit.croppers.memory.workers_within` uses to size thread counts.
Images are flat-ish gradients (the worst case per byte of file: a 100 MP PNG is a few hundred
kB), PNG (decoded whole or in strips) and JPEG (decoded at a reduced DCT scale where the
cropper can).

Usage: python benchmarks/bench_memory.py [--croppers NAME ...] [--megapixels 25 100]
                                         [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CROPPERS = ("fastgaze", "center", "smartcrop", "opencv-spectral", "opencv-finegrained",
            "face-center")
#: Run in the child: VmHWM is this process's own peak (ru_maxrss would carry the parent's
#: over from fork, since the kernel keeps the larger of the two across exec).
PEAK = """
import sys
from cropaudit.cli import main
code = main(sys.argv[1:])
hwm = [ln for ln in open("/proc/self/status") if ln.startswith("VmHWM:")][0].split()[1]
print("PEAK_MB", int(hwm) / 1024, code)
"""


def make_image(megapixels: float, fmt: str, folder: Path) -> Path:
    """A square gradient with a few shapes, ``megapixels`` in size, as PNG or JPEG."""
    from PIL import Image, ImageDraw

    side = int(round((megapixels * 1e6) ** 0.5))
    path = folder / f"{megapixels:g}mp.{fmt.lower()}"
    if path.exists():
        return path
    ramp = np.linspace(0, 255, side, dtype=np.float32)
    rgb = np.empty((side, side, 3), dtype=np.uint8)
    rgb[..., 0] = ramp[None, :]
    rgb[..., 1] = ramp[:, None]
    rgb[..., 2] = 128
    img = Image.fromarray(rgb)
    draw = ImageDraw.Draw(img)
    draw.ellipse((side // 3, side // 4, side // 2, side // 2), fill=(224, 172, 140))
    img.save(path, "PNG" if fmt == "png" else "JPEG", quality=90)
    return path


def peak_mb(cropper: str, image: Path, model: str | None) -> float:
    """Peak resident memory of one ``cropaudit saliency`` process on ``image``, in MiB."""
    argv = [sys.executable, "-c", PEAK, "saliency", "--cropper", cropper, "--format", "json",
            str(image)]
    if model:
        argv += ["--model", model]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "MLFLOW_DISABLE_TELEMETRY": "true"}
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=1800)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("PEAK_MB")]
    if proc.returncode != 0 or not line:
        raise RuntimeError(f"{cropper} on {image.name}: {proc.stderr.strip()[-500:]}")
    return float(line[-1].split()[1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--croppers", nargs="+", default=list(CROPPERS))
    parser.add_argument("--megapixels", nargs="+", type=float, default=[25, 100])
    parser.add_argument("--json", type=Path, help="write the figures here")
    args = parser.parse_args()
    model = os.environ.get("CROPAUDIT_FASTGAZE") or str(ROOT / "models" / "fastgaze.vxm")
    if not Path(model).is_file():
        model = None
    folder = Path(tempfile.gettempdir()) / "cropaudit-bench-memory"
    folder.mkdir(exist_ok=True)
    tiny = make_image(0.01, "png", folder)
    images = [make_image(mp, fmt, folder) for mp in args.megapixels for fmt in ("png", "jpeg")]
    results: dict[str, dict[str, float]] = {}
    for cropper in args.croppers:
        if cropper == "fastgaze" and model is None:
            print("fastgaze: model not found (set CROPAUDIT_FASTGAZE), skipped")
            continue
        base = peak_mb(cropper, tiny, model)
        row = {"base_mb": round(base)}
        for image in images:
            row[image.name] = round(peak_mb(cropper, image, model) - base)
        results[cropper] = row
        print(cropper, json.dumps(row), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
