"""Face boxes mapped into composites (injected boxes: no detector), and crops scored on them."""

from __future__ import annotations

import pandas as pd
import pytest

from cropaudit.contracts import CROP_FACE_COLUMNS, IMAGE_CROP_COLUMNS
from cropaudit.faces.geometry import (
    Box,
    box_in_composite,
    face_kept,
    kept_fraction,
    member_factors,
    point_in_composite,
)
from cropaudit.geometry.crops import Crop
from cropaudit.geometry.placement import Placement, compose
from cropaudit.stages.score_crops import image_crops, score_crops


def test_horizontal_layout_with_padding_shifts_the_second_members_face():
    g = compose([(100, 80), (60, 120)], layout="horizontal", padding=10)
    face = Box(20, 30, 25, 35)
    first = box_in_composite(face, g.placements[0], (100, 80))
    second = box_in_composite(face, g.placements[1], (60, 120))
    assert first == Box(20, 30, 25, 35)
    assert second == Box(110 + 20, 30, 25, 35)  # 100 px wide first member + 10 px padding


def test_vertical_layout_shifts_faces_down_by_the_members_above():
    g = compose([(100, 80), (60, 120)], layout="vertical", padding=7)
    mapped = box_in_composite(Box(5, 10, 20, 30), g.placements[1], (60, 120))
    assert mapped == Box(5, 80 + 7 + 10, 20, 30)


def test_fixed_height_scaling_maps_by_the_members_own_rounded_factors():
    # 301 x 200 scaled to height 100: width rounds to 151 (not 150.5), so x scales by 151/301
    g = compose([(301, 200), (100, 100)], scaling="fixed_height", scaling_size=100)
    p = g.placements[0]
    assert (p.width, p.height) == (151, 100)
    mapped = box_in_composite(Box(100, 40, 60, 80), p, (301, 200))
    assert mapped.left == pytest.approx(100 * 151 / 301)
    assert mapped.width == pytest.approx(60 * 151 / 301)
    assert (mapped.top, mapped.height) == (pytest.approx(20.0), pytest.approx(40.0))
    # the second member is scaled up (100 -> 100: factor 1) and sits right of the first
    assert box_in_composite(Box(0, 0, 10, 10), g.placements[1], (100, 100)).left == 151


def test_without_the_image_size_the_nominal_scale_is_used():
    p = Placement(50, 0, 151, 100, 0.5)
    assert member_factors(p) == (0.5, 0.5)
    assert point_in_composite(10, 20, p) == (55.0, 10.0)
    assert point_in_composite(10, 20, p, (302, 200)) == (pytest.approx(50 + 10 * 151 / 302), 10.0)


def test_boxes_at_the_border_are_clipped_to_the_member():
    g = compose([(100, 100), (100, 50)], layout="horizontal")
    # a box reaching past the image's right edge must not leak into the neighbour
    edge = box_in_composite(Box(90, 10, 30, 20), g.placements[0], (100, 100))
    assert edge == Box(90, 10, 10, 20)
    # past the bottom of the shorter member: clipped to its own height, not the composite's
    low = box_in_composite(Box(10, 40, 20, 30), g.placements[1], (100, 50))
    assert low == Box(110, 40, 20, 10)
    # a box starting left of the image (negative x) keeps only its inside part
    assert box_in_composite(Box(-5, 0, 10, 10), g.placements[1], (100, 50)) == Box(100, 0, 5, 10)
    assert box_in_composite(Box(200, 0, 10, 10), g.placements[0], (100, 100)) is None


def test_kept_fraction_and_labels():
    face = Box(10, 10, 20, 10)
    assert kept_fraction(face, Crop(0, 0, 100, 100, 1.0)) == 1.0
    assert kept_fraction(face, Crop(20, 0, 100, 100, 1.0)) == pytest.approx(0.5)
    assert kept_fraction(face, Crop(40, 0, 100, 100, 1.0)) == 0.0
    assert [face_kept(f) for f in (1.0, 0.5, 0.0)] == ["full", "partial", "none"]
    assert face.contains(10, 10) and not face.contains(30, 15)  # right edge is exclusive


def _outcomes(salient_x: int, salient_y: int = 40) -> pd.DataFrame:
    """A pair composite: a 200x100 image left of a 100x100 image, no scaling."""
    base = {"tuple_id": 0, "comparison": "a~b", "kind": "pair", "composite_width": 300,
            "composite_height": 100, "salient_x": salient_x, "salient_y": salient_y,
            "symmetric": False, "y": 0, "height": 100, "scale": 1.0}
    return pd.DataFrame([
        base | {"position": 0, "image_id": "a1", "group": "a", "x": 0, "width": 200,
                "won": salient_x < 200},
        base | {"position": 1, "image_id": "b1", "group": "b", "x": 200, "width": 100,
                "won": salient_x >= 200},
    ])


def _faces(rows: list[dict]) -> pd.DataFrame:
    out = []
    for r in rows:
        out.append({"image_id": r["image_id"], "group": r["image_id"][0], "image_width":
                    r["size"][0], "image_height": r["size"][1], "n_faces": 1, "face_index": 0,
                    "primary": True, "x": r["box"][0], "y": r["box"][1],
                    "width": r["box"][2], "height": r["box"][3], "confidence": 0.99})
    return pd.DataFrame(out)


def test_score_crops_scores_each_members_face_in_composite_coordinates():
    faces = _faces([{"image_id": "a1", "size": (200, 100), "box": (20, 20, 40, 40)},
                    {"image_id": "b1", "size": (100, 100), "box": (30, 20, 40, 40)}])
    # salient point on a1's face; square crop 100x100 centred on x=40 -> [0, 100)
    crops = score_crops(_outcomes(40), [1.0], faces).set_index("image_id")
    assert set(CROP_FACE_COLUMNS) <= set(crops.columns)
    assert crops.at["b1", "face_left"] == 230  # 200 + 30: mapped into the composite
    assert bool(crops.at["a1", "salient_in_face"]) and not bool(crops.at["b1", "salient_in_face"])
    assert crops.at["a1", "face_retention"] == 1.0 and bool(crops.at["a1", "face_kept"])
    assert crops.at["b1", "face_retention"] == 0.0 and not bool(crops.at["b1", "face_kept"])
    # salient point at x=215: crop [165, 265) keeps b1's face [230, 270) partly (35/40)
    crops = score_crops(_outcomes(215), [1.0], faces).set_index("image_id")
    assert crops.at["b1", "face_retention"] == pytest.approx(35 / 40)
    assert not bool(crops.at["b1", "face_kept"])


def test_members_without_a_face_get_na():
    faces = _faces([{"image_id": "a1", "size": (200, 100), "box": (20, 20, 40, 40)}])
    faces = pd.concat([faces, pd.DataFrame([{
        "image_id": "b1", "group": "b", "image_width": 100, "image_height": 100, "n_faces": 0,
        "face_index": -1, "primary": False}])], ignore_index=True)
    crops = score_crops(_outcomes(250), [1.0, 2.0], faces)
    b = crops[crops["image_id"] == "b1"]
    assert not b["has_face"].any()
    assert b["salient_in_face"].isna().all() and b["face_kept"].isna().all()
    assert b["face_retention"].isna().all()


def test_image_crops_use_each_images_own_salient_point():
    saliency = pd.DataFrame([{"image_id": "a1", "group": "a", "width": 100, "height": 200,
                              "salient_x": 50, "salient_y": 150, "symmetric": False}])
    faces = _faces([{"image_id": "a1", "size": (100, 200), "box": (30, 20, 40, 50)}])
    crops = image_crops(saliency, [1.0, 2.0], faces).set_index("aspect_ratio")
    assert list(crops.columns) == [c for c in IMAGE_CROP_COLUMNS if c != "aspect_ratio"]
    # square crop centred on y=150 -> rows [100, 200): the face (rows 20..70) is cut away
    assert crops.at[1.0, "crop_top"] == 100 and crops.at[1.0, "face_retention"] == 0.0
    assert not bool(crops.at[1.0, "salient_in_face"])
    # the image's own ratio keeps everything
    assert crops.at[2.0, "face_retention"] == 1.0 and bool(crops.at[2.0, "face_kept"])
