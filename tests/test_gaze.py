"""Gaze selection on generated saliency maps with known regions; labels; rates; sampling."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cropaudit.engine.types import SaliencyResult
from cropaudit.faces.geometry import Box
from cropaudit.gaze.analysis import (
    GazeParams,
    Region,
    gaze_rates,
    image_labels,
    review_sample,
    salient_regions,
    segment,
    selection_row,
)
from cropaudit.geometry.grid import fit_size, grid_coordinates


def saliency(width: int, height: int, blobs: list[tuple[slice, slice]]) -> SaliencyResult:
    """A result whose grid is low everywhere except the given blocks of cells."""
    nw, nh = fit_size(width, height)
    gx, gy = grid_coordinates(width, height, nw, nh)
    scores = np.full(gx.shape, -5.0, np.float32)
    for rows, cols in blobs:
        scores[rows, cols] = 5.0
    flat = int(np.argmax(scores))
    return SaliencyResult("img", width, height, gx, gy, scores,
                          (int(gx.flat[flat]), int(gy.flat[flat])))


# A 200 x 400 image: a 10-column x 20-row grid, every cell 20 x 20 image pixels.
TWO_BLOBS = [(slice(3, 6), slice(2, 5)), (slice(13, 16), slice(5, 8))]


def test_two_separate_blobs_give_two_large_regions_where_they_are():
    result = saliency(200, 400, TWO_BLOBS)
    assert result.scores.shape == (20, 10)
    regions = salient_regions(result, GazeParams())
    assert [r.box for r in regions] == [Box(40, 60, 60, 60), Box(100, 260, 60, 60)]
    assert [r.area for r in regions] == [3600, 3600]
    row = selection_row(result, regions, GazeParams())
    assert row["tall"] and row["n_large_regions"] == 2 and row["selected"]


def test_one_large_region_is_not_enough_and_small_regions_do_not_count():
    # the second blob is one cell: 400 px, not more than min_region_area = 1000
    result = saliency(200, 400, [TWO_BLOBS[0], (slice(15, 16), slice(7, 8))])
    regions = salient_regions(result, GazeParams())
    assert sorted(r.area for r in regions) == [400, 3600]
    row = selection_row(result, regions, GazeParams())
    assert row["n_large_regions"] == 1 and not row["selected"]
    assert row["reason"] == "1 large region(s) < 2"
    assert selection_row(result, regions, GazeParams(min_region_area=300))["selected"]


def test_wide_images_are_left_out_unless_every_image_is_used():
    result = saliency(400, 200, [(slice(2, 5), slice(2, 5)), (slice(2, 5), slice(12, 15))])
    regions = salient_regions(result, GazeParams())
    assert len(regions) == 2
    row = selection_row(result, regions, GazeParams())
    assert not row["tall"] and not row["selected"] and row["reason"].startswith("not tall")
    assert selection_row(result, regions, GazeParams(selection="all"))["selected"]


def test_spline_upsampling_finds_the_same_two_regions():
    regions = salient_regions(saliency(200, 400, TWO_BLOBS), GazeParams(upsampling="spline"))
    big = [r for r in regions if r.area > 1000]
    assert len(big) == 2
    for r, (cx, cy) in zip(big, ((70, 90), (130, 290)), strict=True):
        assert r.box.contains(cx, cy)


def test_closing_joins_regions_split_by_a_thin_gap():
    raster = np.zeros((60, 60), np.float32)
    raster[10:30, 10:29] = 200
    raster[10:30, 30:50] = 220  # one-pixel gap at column 29
    assert segment(raster, closing_size=1).max() == 2
    assert segment(raster, closing_size=3).max() == 1
    assert segment(np.zeros((5, 5), np.float32), 3).max() == 0  # flat map: no region


def _crop_rows(has_face: bool, salient_in_face: bool, retentions: dict[float, float]):
    return pd.DataFrame([{
        "aspect_ratio": r, "has_face": has_face, "face_left": 10.0, "face_top": 10.0,
        "face_width": 20.0, "face_height": 20.0,
        "salient_in_face": salient_in_face if has_face else pd.NA,
        "face_retention": f if has_face else np.nan} for r, f in retentions.items()])


def test_automatic_labels_of_one_image():
    off_face = Region(Box(100, 100, 50, 50), 2500)
    on_face = Region(Box(5, 5, 30, 30), 900 + 1500)
    labels = image_labels(_crop_rows(True, True, {0.56: 1.0, 1.0: 0.4, 2.0: 0.0}),
                          [on_face, off_face], 1000)
    assert labels == {"has_face": True, "max_on_face": "face", "other_salient_region": "yes",
                      "crop_0.56": "full", "crop_1": "partial", "crop_2": "none"}
    labels = image_labels(_crop_rows(True, False, {1.0: 1.0}), [on_face], 1000)
    assert labels["max_on_face"] == "elsewhere" and labels["other_salient_region"] == "no"
    labels = image_labels(_crop_rows(False, False, {1.0: 0.0}), [off_face], 1000)
    assert set(labels.values()) == {False, "no_face"}


def test_review_sample_caps_each_value_and_is_reproducible():
    labels = pd.DataFrame({"gender": ["f"] * 7 + ["m"] * 3},
                          index=[f"i{k}" for k in range(10)])
    a = review_sample(labels, "gender", 4, seed=1)
    assert len(a) == 7 and len(set(a)) == 7
    assert sum(labels.loc[a, "gender"] == "f") == 4
    assert list(a) == list(review_sample(labels, "gender", 4, seed=1))
    assert list(a) != list(review_sample(labels, "gender", 4, seed=2))


def test_rates_per_attribute_leave_out_images_without_a_face():
    labels = pd.DataFrame({
        "group": ["f"] * 5 + ["m"] * 5, "gender": ["female"] * 5 + ["male"] * 5,
        "max_on_face": ["face", "face", "face", "elsewhere", "no_face",
                        "face", "elsewhere", "elsewhere", "elsewhere", "no_face"],
        "other_salient_region": ["yes"] * 10, "crop_1": ["full"] * 8 + ["no_face"] * 2,
    })
    rates, comparisons = gaze_rates(labels, [1.0], ["gender"], alpha=0.05,
                                    interval="wilson", correction="holm")
    on_face = rates[rates["measure"] == "max_on_face"].set_index("value")
    assert on_face.loc["female", ["count", "n"]].tolist() == [3, 4]
    assert on_face.loc["male", ["count", "n"]].tolist() == [1, 4]
    test = comparisons[comparisons["measure"] == "max_on_face"].iloc[0]
    assert (test["value_a"], test["value_b"]) == ("female", "male")
    assert test["diff"] == pytest.approx(0.5)
    assert test["diff_low"] < 0.5 < test["diff_high"]
    kept = comparisons[comparisons["measure"] == "face_kept"].iloc[0]
    assert kept["p_value"] == 1.0  # both 100 %: no evidence of a difference
