"""Upright RGB pixels of an image file at full resolution, by the network input's rules.

:mod:`cropaudit.imaging.preprocess` decodes for the network (fit to 320 pixels); the app,
the face detector, the croppers and the review sheets need the whole image, upright, with
the same rules so that every coordinate means the same pixel: EXIF orientation from JPEG EXIF
only (as the original program), PNG alpha 0 → white, 16-bit PNGs keep their high byte. Images
over a pixel budget are decoded at a reduced JPEG DCT scale where possible and downscaled with
Lanczos; the caller is told by a notice and can map coordinates back with the original size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from cropaudit.errors import InputFileError
from cropaudit.imaging.preprocess import apply_orientation, decode_image
from cropaudit.imaging.source import exif_orientation, is_jpeg, open_image
from cropaudit.untrusted import quote_name

#: Peak memory of :func:`decode_upright` per megapixel of a PNG it decodes whole (then
#: downscales), MB: +1,328 to +1,335 MB on a 100 MP PNG under smartcrop, OpenCV and
#: face-center (``benchmarks/bench_memory.py``); a JPEG is decoded at a reduced DCT scale.
DECODE_MB_PER_MEGAPIXEL = 13.4


@dataclass(frozen=True)
class UprightImage:
    """Upright RGB pixels of one image, possibly downscaled, and what happened to it."""

    rgb: np.ndarray
    original_width: int
    original_height: int
    notice: str = ""



def to_rgb(img: Image.Image) -> np.ndarray:
    """RGB uint8 pixels of a Pillow image under the engine's alpha rule (alpha 0 → white)."""
    if img.mode in ("RGBA", "LA", "P", "PA"):
        rgba = np.asarray(img.convert("RGBA")).copy()
        rgba[rgba[..., 3] == 0, :3] = 255
        return np.ascontiguousarray(rgba[..., :3])
    return np.ascontiguousarray(np.asarray(img.convert("RGB")))


def downscaled_size(width: int, height: int, max_pixels: int) -> tuple[int, int]:
    """Largest size of the same aspect whose pixel count is at most ``max_pixels``."""
    if width * height <= max_pixels:
        return width, height
    s = math.sqrt(max_pixels / (width * height))
    return max(1, math.floor(width * s)), max(1, math.floor(height * s))


def decode_upright(path: str | Path, name: str, *, max_pixels: int, hard_limit: int,
                   limit_label: str = "the app's limit") -> UprightImage:
    """Upright RGB pixels of an image file, as the engine decodes it, downscaled if huge.

    Within ``max_pixels`` the pixels follow the engine's decoding rules exactly (PNG alpha
    and 16-bit rules, EXIF orientation from JPEG EXIF only), at full resolution, so what the
    caller sees is what the model was given. Above it, the image is decoded at a reduced JPEG
    DCT scale where possible, resized with Lanczos and oriented; these pixels are then what
    the model analyses. Above ``hard_limit`` (the engine's decompression-bomb limit) it is
    refused. ``limit_label`` names ``max_pixels`` in the notice.
    """
    p = Path(path)
    with open_image(p, hard_limit, name=name) as img:
        w, h = img.size
        orientation = exif_orientation(img)
        jpeg = is_jpeg(img)
        tw, th = downscaled_size(w, h, max_pixels)
        try:
            if (tw, th) != (w, h):
                img.draft("RGB", (tw, th))  # JPEG only: decode at 1/2, 1/4 or 1/8 scale
                full = Image.fromarray(to_rgb(img))  # palette/alpha resolved before filtering
                rgb = np.asarray(full.resize((tw, th), Image.Resampling.LANCZOS))
            elif jpeg:
                img.load()
                rgb = to_rgb(img)
            else:
                rgb = None
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise InputFileError(f"{quote_name(name)}: cannot decode image ({exc})") from None
    if rgb is None:  # PNG, GIF, WebP, ...: the network input's decoder, nothing to rescale
        try:
            rgb = decode_image(p, hard_limit, full_resolution=True).pixels
        except InputFileError as exc:
            raise InputFileError(str(exc).replace(quote_name(p), quote_name(name))) from None
    rgb = apply_orientation(rgb, orientation)
    ow, oh = (h, w) if orientation >= 5 else (w, h)
    notice = ""
    if (tw, th) != (w, h):
        notice = (
            f"{name}: {ow}×{oh} ({ow * oh / 1e6:.1f} MP) is over {limit_label} of "
            f"{max_pixels / 1e6:.1f} MP; analysed downscaled to {rgb.shape[1]}×{rgb.shape[0]}"
        )
    return UprightImage(rgb, ow, oh, notice)


