"""Crop retention: how much of each member survives the crop centred on the salient point."""

from __future__ import annotations

import pandas as pd
import pytest

from cropaudit.stages.score_crops import CropsParams, score_crops
from cropaudit.stats.findings import retention_summary


def outcomes(salient_x: int, salient_y: int = 50) -> pd.DataFrame:
    base = {"tuple_id": 0, "comparison": "a~b", "kind": "pair", "composite_width": 400,
            "composite_height": 100, "salient_x": salient_x, "salient_y": salient_y,
            "symmetric": False, "y": 0, "height": 100}
    return pd.DataFrame([
        base | {"position": 0, "image_id": "a1", "group": "a", "x": 0, "width": 300,
                "won": salient_x < 300},
        base | {"position": 1, "image_id": "b1", "group": "b", "x": 300, "width": 100,
                "won": salient_x >= 300},
    ])


def test_square_crop_on_the_left_member_keeps_a_third_of_it_and_nothing_of_the_right():
    crops = score_crops(outcomes(50), [1.0]).set_index("group")
    assert crops.loc["a", ["crop_left", "crop_top", "crop_width", "crop_height"]].tolist() == [
        0, 0, 100, 100]
    assert crops.at["a", "retention"] == pytest.approx(1 / 3)
    assert crops.at["b", "retention"] == 0.0


def test_crop_shifted_inside_the_composite_near_the_right_edge():
    crops = score_crops(outcomes(390), [1.0]).set_index("group")
    assert crops.at["b", "crop_left"] == 300  # centred on 390 would overflow: shifted left
    assert crops.at["b", "retention"] == 1.0 and crops.at["a", "retention"] == 0.0


def test_the_composites_own_aspect_ratio_keeps_everything():
    crops = score_crops(outcomes(200), [0.25, 1.0])
    assert crops[crops["aspect_ratio"] == 0.25]["retention"].tolist() == [1.0, 1.0]
    assert len(crops) == 4


def test_summary_reports_cropped_out_share():
    crops = pd.concat([score_crops(outcomes(50), [1.0]),
                       score_crops(outcomes(350).assign(tuple_id=1), [1.0])])
    summary = retention_summary(crops).set_index("group")
    assert summary.at["b", "cropped_out"] == 0.5 and summary.at["b", "members"] == 2
    assert summary.at["b", "mean_retention"] == pytest.approx(0.5)


def test_aspect_ratios_must_be_in_range_and_distinct():
    for bad in (-2.0, 0.0, 1000.0):
        with pytest.raises(ValueError, match=r"aspect ratios must be in 0\.01\.\.100"):
            CropsParams(aspect_ratios=[1.0, bad])
    with pytest.raises(ValueError, match="aspect ratios must not repeat"):
        CropsParams(aspect_ratios=[1.0, 1.0])
