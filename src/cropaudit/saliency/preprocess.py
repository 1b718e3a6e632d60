"""INTERIM preprocessing (Pillow approximation) until the bit-exact port lands.

Same interface as the bit-exact module being written: ``prepare_file``, ``prepare_array``,
``PreparedImage``. Differences to the original: Pillow LANCZOS instead of imagecore's filters,
no JPEG DCT scaling, no symmetry rule.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps

from cropaudit.errors import InputFileError
from cropaudit.saliency.grid import fit_size
from cropaudit.saliency.source import open_image

MEANS = np.array([103.939, 116.779, 123.68], dtype=np.float32)


@dataclass(frozen=True)
class PreparedImage:
    network_input: np.ndarray
    fitted: np.ndarray
    width: int
    height: int
    net_width: int
    net_height: int
    symmetric: bool = False
    symmetry_score: float = float("nan")


def prepare_array(rgb: np.ndarray) -> PreparedImage:
    h, w = rgb.shape[:2]
    nw, nh = fit_size(w, h)
    fitted = np.asarray(Image.fromarray(rgb).resize((nw, nh), Image.LANCZOS))
    return PreparedImage(fitted.astype(np.float32) - MEANS, fitted, w, h, nw, nh)


def prepare_file(path: str | os.PathLike[str], max_pixels: int) -> PreparedImage:
    with open_image(path, max_pixels) as img:
        try:
            img = ImageOps.exif_transpose(img)
            if img.mode in ("RGBA", "LA", "P"):
                rgba = np.asarray(img.convert("RGBA")).copy()
                rgba[rgba[..., 3] == 0, :3] = 255
                rgb = rgba[..., :3]
            else:
                rgb = np.asarray(img.convert("RGB"))
        except OSError as exc:
            raise InputFileError(f"{path}: cannot decode image ({exc})") from None
    return prepare_array(np.ascontiguousarray(rgb))
