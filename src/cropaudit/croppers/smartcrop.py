"""``smartcrop``: smartcrop.py (MIT), the most copied open-source cropper, at its defaults.

smartcrop scores every candidate window of the requested ratio (8-pixel steps, two scales)
by a feature map — skin colour × detail (weight 1.8), edges (0.2) and saturation (0.3) — with
a rule-of-thirds importance and a penalty for what is left outside, and keeps the best one.
Its skin feature compares each pixel's normalised RGB with ``DEFAULT_SKIN_COLOR`` = (0.78,
0.57, 0.44): a built-in prior on skin tone, which is why it must be audited.

Mapping onto the cropper interface (docs/croppers.md):

- **crops**: smartcrop's own search per aspect ratio, called as its command line does
  (``crop(image, width=100, height=round(100·ratio))``, default settings);
- **map**: the feature map smartcrop scores crops with (its ``score_down_sample`` = 8 grid),
  from the analysis of the square crop; cell centres in the image's own pixels;
- **salient point**: the centre of its best crop at ``point_aspect_ratio`` (default 1.0,
  square): smartcrop decides by crop search, not by the map's maximum.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version

import numpy as np
from PIL import Image

from cropaudit.croppers.base import (
    CropperContext,
    CropperInfo,
    CropperSpec,
    Cropping,
    PixelCropper,
    Pixels,
    cell_centres,
    crop_centre,
    number_option,
    resolve_ratios,
    scale_crop,
)
from cropaudit.engine.types import SaliencyResult
from cropaudit.errors import ConfigError
from cropaudit.geometry.crops import Crop, crop_rectangle

#: Target width handed to smartcrop, as its own command line does.
TARGET_WIDTH = 100


def smartcrop_version() -> str:
    try:
        return f"smartcrop {version('smartcrop')}"
    except PackageNotFoundError:
        return "smartcrop (not installed)"


class SmartCropCropper(PixelCropper):
    """smartcrop.py behind the cropper interface (see the module docstring)."""

    def __init__(self, point_aspect_ratio: float = 1.0, **settings: float) -> None:
        from smartcrop import SmartCrop

        if not point_aspect_ratio > 0:
            raise ConfigError(f"smartcrop: point_aspect_ratio must be positive, "
                              f"got {point_aspect_ratio}")
        try:
            self.engine = SmartCrop(**settings)
        except TypeError as exc:
            raise ConfigError(f"smartcrop: unknown setting ({exc})") from None
        self.point_aspect_ratio = point_aspect_ratio
        self.info = CropperInfo(
            "smartcrop", smartcrop_version(), SMARTCROP.licence, True, SMARTCROP.description,
            {"point_aspect_ratio": point_aspect_ratio, "target_width": TARGET_WIDTH,
             "skin_color": list(self.engine.skin_color), "skin_weight": self.engine.skin_weight,
             **settings},
        )

    def search(self, image: Image.Image, ratio: float) -> dict:
        """smartcrop's best crop of ``ratio`` (h/w) and its analysis image.

        smartcrop scores crops on an 8-pixel grid; a crop narrower than one cell (an image a
        few pixels wide, 1×1 or 1×N) covers no cell, its score divides by zero (a NumPy
        RuntimeWarning on stderr) and smartcrop returns its first candidate, possibly 0
        pixels wide. There the centred crop of the ratio is taken, silently: no candidate
        was scored, so none is better than the centre.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            found = self.engine.crop(image, width=TARGET_WIDTH,
                                     height=max(1, round(TARGET_WIDTH * ratio)))
        top = found["top_crop"]
        score = top.get("score", 0.0)
        if (top["width"] < 1 or top["height"] < 1
                or (isinstance(score, float) and not math.isfinite(score))):
            w, h = image.size
            centred = crop_rectangle(w, h, w // 2, h // 2, ratio)
            found["top_crop"] = {**top, "x": centred.left, "y": centred.top,
                                 "width": centred.width, "height": centred.height}
        return found

    def feature_map(self, analyse_image: Image.Image) -> np.ndarray:
        """The map smartcrop scores crops with: its features on the 8-pixel scoring grid."""
        w, h = analyse_image.size
        step = self.engine.score_down_sample
        small = analyse_image.resize((-(-w // step), -(-h // step)), Image.Resampling.LANCZOS)
        return np.ascontiguousarray(self.engine.precompute_features(small), dtype=np.float32)

    def crop_pixels(self, pixels: Pixels, source: str,
                    aspect_ratios: Sequence[float] | None) -> Cropping:
        image = Image.fromarray(pixels.rgb)
        fx, fy = pixels.scale
        ratios = resolve_ratios(pixels.width, pixels.height, aspect_ratios)
        best: dict[float, Crop] = {}
        analysis = None
        for r in dict.fromkeys([self.point_aspect_ratio, *ratios]):
            found = self.search(image, r)
            top = found["top_crop"]
            crop = Crop(int(top["x"]), int(top["y"]), int(top["width"]), int(top["height"]), r)
            best[r] = scale_crop(crop, fx, fy, pixels.width, pixels.height)
            if analysis is None:
                analysis = found["analyse_image"]
        assert analysis is not None  # the loop runs at least once (point_aspect_ratio)
        scores = self.feature_map(analysis)
        rows, cols = scores.shape
        gx, gy = cell_centres(pixels.width, pixels.height, rows, cols)
        result = SaliencyResult(
            source=source, width=pixels.width, height=pixels.height, grid_x=gx, grid_y=gy,
            scores=scores, salient_point=crop_centre(best[self.point_aspect_ratio]),
            model=self.name, extra={"point_crop": best[self.point_aspect_ratio].as_tuple()},
        )
        return Cropping(result, tuple(best[r] for r in ratios))


def build_smartcrop(context: CropperContext) -> SmartCropCropper:
    options = {k: number_option(context.options, k, 0.0, "smartcrop") for k in context.options}
    point = options.pop("point_aspect_ratio", 1.0)
    return SmartCropCropper(point, **options)


SMARTCROP = CropperSpec(
    name="smartcrop", factory=build_smartcrop, has_map=True, licence="MIT",
    description="smartcrop.py: crop search over skin/edge/saturation features (skin prior)",
    version=smartcrop_version, requires=("smartcrop",),
)
