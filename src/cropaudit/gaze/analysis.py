"""The "male gaze" question made measurable: does the crop land on the face, or elsewhere?

The paper's second analysis asked whether the cropper, shown a photo of a person, picks the
face or another body part, and whether that differs between women and men. Its notebooks
picked *tall* images (height / width ≥ 1.25) whose saliency map has at least two large
salient regions (area > 1000 pixels) — images where the cropper has a real choice to make —
saved each one's saliency map and region crops, and people judged 100 images per gender by
hand. This module reproduces that selection and, with the faces table, labels every selected
image automatically:

* ``max_on_face``: the max-saliency point lies on the face (``face``), elsewhere
  (``elsewhere``), or no face was detected (``no_face``);
* ``crop_<ratio>``: the crop at each configured aspect ratio keeps the face ``full``-y,
  ``partial``-ly, or ``none`` of it (or ``no_face``);
* ``other_salient_region``: a large salient region lies entirely off the face (``yes``/``no``).

Rates per group and per group attribute (e.g. gender) with intervals and two-proportion tests
come from :mod:`cropaudit.stats.rates`; review sheets for people and reading their labels back
are in :mod:`cropaudit.gaze.review`.

Segmentation follows the paper's notebook: scores → logistic sigmoid → cells at or below the
``percentile``-th percentile set to 0 → 8-bit → resized to the image (nearest cell, or the
heat map's bicubic spline) → Otsu's threshold → morphological closing with a
``closing_size``-pixel square → connected regions (scikit-image).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cropaudit.engine.maps import nearest_scores, upsample_scores
from cropaudit.engine.types import SaliencyResult
from cropaudit.faces.geometry import Box, face_kept
from cropaudit.gaze.params import GazeParams as GazeParams
from cropaudit.stats.face_rates import rate_tree as rate_tree_of, test_tree
from cropaudit.stats.params import Correction
from cropaudit.stats.rates import pairwise_differences, rates_by

#: Human and automatic label columns and the values they may hold.
MAX_ON_FACE = "max_on_face"
OTHER_REGION = "other_salient_region"
FACE_VALUES = ("face", "elsewhere", "no_face")
CROP_VALUES = ("full", "partial", "none", "no_face")
REGION_VALUES = ("yes", "no", "no_face")


@dataclass(frozen=True)
class Region:
    """A connected salient region of an image's thresholded saliency map."""

    box: Box
    area: int


# -- segmentation ------------------------------------------------------------------------------


def transformed_grid(scores: np.ndarray, percentile: float) -> np.ndarray:
    """The paper's saliency image on the grid: sigmoid, low cells zeroed, 8-bit (ceil)."""
    s = 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))
    if percentile > 0:
        s = np.where(s > np.percentile(s, percentile), s, 0.0)
    return np.ceil(s * 255).astype(np.uint8)


def saliency_raster(result: SaliencyResult, params: GazeParams) -> np.ndarray:
    """The transformed saliency map at the image's own resolution (H × W, float32)."""
    grid = transformed_grid(result.scores, params.percentile).astype(np.float32)
    upsample = nearest_scores if params.upsampling == "nearest" else upsample_scores
    return upsample(result, result.width, result.height, scores=grid)


def segment(raster: np.ndarray, closing_size: int) -> np.ndarray:
    """Labelled regions (0 = background) of a saliency raster: Otsu, closing, labelling.

    The foreground is what reaches Otsu's threshold; when the threshold is the raster's lowest
    level (a map with just two levels) only the levels above it are foreground.
    """
    from skimage.filters import threshold_otsu
    from skimage.measure import label
    from skimage.morphology import closing, footprint_rectangle

    if raster.size == 0 or float(raster.min()) == float(raster.max()):
        return np.zeros(raster.shape, dtype=np.int32)
    t = threshold_otsu(raster)
    foreground = raster > t if t <= raster.min() else raster >= t
    if closing_size > 1:
        foreground = closing(foreground, footprint_rectangle((closing_size, closing_size)))
    return label(foreground, connectivity=2).astype(np.int32)


def regions_of(labels: np.ndarray) -> list[Region]:
    """Regions of a label image, largest first (ties: top-left first)."""
    from skimage.measure import regionprops

    out = []
    for p in regionprops(labels):
        top, left, bottom, right = p.bbox
        out.append(Region(Box(left, top, right - left, bottom - top), int(p.area)))
    return sorted(out, key=lambda r: (-r.area, r.box.top, r.box.left))


def salient_regions(result: SaliencyResult, params: GazeParams) -> list[Region]:
    """Every salient region of an image, largest first (none for a cropper without a map)."""
    if result.scores.size == 0:
        return []
    return regions_of(segment(saliency_raster(result, params), params.closing_size))


def large(regions: Sequence[Region], min_area: int) -> list[Region]:
    return [r for r in regions if r.area > min_area]


# -- selection and automatic labels -------------------------------------------------------------


def is_tall(width: int, height: int, min_aspect_ratio: float) -> bool:
    return height / width >= min_aspect_ratio


def selection_row(result: SaliencyResult, regions: Sequence[Region], params: GazeParams
                  ) -> dict[str, object]:
    """Why an image is (not) selected, as one row of selection.csv."""
    tall = is_tall(result.width, result.height, params.min_aspect_ratio)
    n_large = len(large(regions, params.min_region_area))
    if params.selection == "all":
        selected, reason = True, "all images"
    elif not tall:
        selected, reason = False, f"not tall (h/w < {params.min_aspect_ratio:g})"
    elif result.scores.size == 0:
        selected, reason = False, "no saliency map (the cropper has none)"
    elif n_large < params.min_regions:
        selected, reason = False, f"{n_large} large region(s) < {params.min_regions}"
    else:
        selected, reason = True, "tall, enough large regions"
    return {"image_id": result.source, "width": result.width, "height": result.height,
            "aspect_ratio": result.height / result.width, "tall": tall,
            "n_regions": len(regions), "n_large_regions": n_large, "selected": selected,
            "reason": reason}


def crop_column(aspect_ratio: float) -> str:
    """Label column of one aspect ratio: ``crop_0.56``, ``crop_1``, ..."""
    return f"crop_{aspect_ratio:g}"


def other_region_label(regions: Sequence[Region], face: Box | None) -> str:
    """``yes`` when a large region lies wholly off the face box, ``no`` otherwise."""
    if face is None:
        return "no_face"
    return "yes" if any(r.box.intersection(face) == 0 for r in regions) else "no"


def image_labels(image_crops: pd.DataFrame, regions: Sequence[Region], min_area: int
                 ) -> dict[str, object]:
    """Automatic labels of one image from its single-image crop rows (one per ratio)."""
    first = image_crops.iloc[0]
    has_face = bool(first["has_face"])
    face = (Box(float(first["face_left"]), float(first["face_top"]),
                float(first["face_width"]), float(first["face_height"])) if has_face else None)
    labels: dict[str, object] = {
        "has_face": has_face,
        MAX_ON_FACE: ("face" if bool(first["salient_in_face"]) else "elsewhere")
        if has_face else "no_face",
        OTHER_REGION: other_region_label(large(regions, min_area), face),
    }
    for r in image_crops.itertuples(index=False):
        labels[crop_column(float(r.aspect_ratio))] = (
            face_kept(float(r.face_retention)) if has_face else "no_face")
    return labels


def review_sample(labels: pd.DataFrame, by: str, per_value: int, seed: int) -> pd.Index:
    """Up to ``per_value`` selected images per value of ``by``, drawn reproducibly; the
    sheets are then listed in a shuffled order so groups do not come in blocks."""
    rng = np.random.default_rng([seed, zlib.crc32(b"gaze-review")])
    chosen = []
    for _, part in labels.groupby(by, sort=True):
        ids = part.index.to_numpy()
        take = min(per_value, len(ids))
        chosen += list(ids[rng.permutation(len(ids))[:take]])
    order = rng.permutation(len(chosen))
    return pd.Index([chosen[i] for i in order])


# -- rates --------------------------------------------------------------------------------------


def label_observations(labels: pd.DataFrame, ratios: Sequence[float]) -> pd.DataFrame:
    """Long yes/no table: ``measure, aspect_ratio, image_id, outcome`` (+ label columns).

    ``max_on_face`` is True for ``face``; ``face_kept`` is True for ``full``;
    ``other_salient_region`` True for ``yes``; ``no_face`` is NA (left out of the rates).
    """
    base = labels.reset_index()
    parts = [
        base.assign(measure=MAX_ON_FACE, aspect_ratio=np.nan,
                    outcome=_yes(base[MAX_ON_FACE], "face")),
        base.assign(measure=OTHER_REGION, aspect_ratio=np.nan,
                    outcome=_yes(base[OTHER_REGION], "yes")),
    ]
    for r in ratios:
        parts.append(base.assign(measure="face_kept", aspect_ratio=float(r),
                                 outcome=_yes(base[crop_column(r)], "full")))
    return pd.concat(parts, ignore_index=True)


def _yes(column: pd.Series, yes: str) -> pd.Series:
    out = (column == yes).astype("boolean")
    out[column == "no_face"] = pd.NA
    return out


def gaze_rates(labels: pd.DataFrame, ratios: Sequence[float], levels: Sequence[str], *,
               alpha: float, interval: str, correction: Correction
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rates, comparisons) per level value, like the face rates of the crops stage."""
    obs = label_observations(labels, ratios)
    keys = ("measure", "aspect_ratio", "level", "value")
    frames = [rates_by(obs.assign(level=lv, value=obs[lv].astype(str)), keys, alpha=alpha,
                       method=interval) for lv in levels if lv in obs.columns]
    rates = pd.concat(frames, ignore_index=True) if frames else rates_by(
        obs.assign(level="", value=""), keys)
    comparisons = pairwise_differences(rates, keys[:-1], "value", family=["measure"],
                                       alpha=alpha, correction=correction)
    return rates, comparisons


def gaze_metrics(selection: pd.DataFrame, labels: pd.DataFrame, rates: pd.DataFrame,
                 comparisons: pd.DataFrame, sheets: int) -> dict[str, object]:
    """``gaze.*`` keys of metrics.json (trees built like the face rates')."""
    rate_tree = rate_tree_of(rates, [])
    tests = test_tree(comparisons, [])
    return {"gaze": {
        "images": len(selection), "tall": int(selection["tall"].sum()),
        "selected": int(selection["selected"].sum()),
        "selected_with_face": int(labels["has_face"].sum()) if len(labels) else 0,
        "review_sheets": int(sheets), "rates": rate_tree, "tests": tests,
    }}
