"""Large non-JPEG images are decoded strip by strip and halved on the way (bounded memory).

The network input must stay byte-identical to decoding everything and then resizing, for
every PNG colour type and for odd sizes (the halving drops an odd last row and column).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cropaudit.geometry.grid import fit_size
from cropaudit.imaging import preprocess
from cropaudit.imaging.resample import resize_high_quality


def _image(mode: str, width: int, height: int) -> Image.Image:
    rng = np.random.default_rng(width * 7 + height)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65535, (height, width), dtype=np.uint16))
    base = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    base[: height // 3, : width // 4, 3] = 0  # a transparent corner (alpha rule)
    rgba = Image.fromarray(base, "RGBA")
    if mode == "P":
        img = rgba.convert("RGB").quantize(64)
        img.info["transparency"] = 3
        return img
    return rgba.convert(mode)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "L", "P", "I;16"])
@pytest.mark.parametrize(("width", "height"), [(1501, 1203), (700, 2047)])
def test_strip_decoding_gives_the_same_network_input(tmp_path, monkeypatch, mode, width,
                                                     height) -> None:
    path = tmp_path / f"big-{mode.replace(';', '')}.png"
    _image(mode, width, height).save(path, **({"transparency": 3} if mode == "P" else {}))
    monkeypatch.setattr(preprocess, "DECODE_STRIP_ROWS", 128)  # many strips, odd leftovers
    decoded = preprocess.decode_image(path, 10**8)
    assert decoded.pixels.shape[:2] == (height // 2, width // 2)
    whole = preprocess.decode_image(path, 10**8, full_resolution=True)
    assert whole.pixels.shape[:2] == (height, width)
    target = fit_size(width, height)
    assert np.array_equal(resize_high_quality(decoded.pixels, *target),
                          resize_high_quality(whole.pixels, *target))


def test_images_that_need_no_halving_are_decoded_whole(tmp_path) -> None:
    path = tmp_path / "small.png"
    _image("RGB", 600, 500).save(path)
    assert preprocess.decode_image(path, 10**8).pixels.shape == (500, 600, 3)
