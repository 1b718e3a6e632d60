"""Crop geometry: hand-worked cases and every crop the original program printed."""

from __future__ import annotations

import pytest
from PIL import Image

from cropaudit.geometry.crops import (
    DEFAULT_ASPECT_RATIOS,
    Crop,
    candidate_crops,
    crop_rectangle,
    default_aspect_ratios,
    intersection_area,
    lroundf,
)
from cropaudit.imaging.source import oriented_size
from reference import parse_output, reference_images


def test_lroundf_rounds_half_away_from_zero() -> None:
    assert lroundf(2.5) == 3
    assert lroundf(3.5) == 4
    assert lroundf(-2.5) == -3
    assert lroundf(2.4999) == 2


def test_wide_ratio_keeps_full_width_and_centres_on_salient_y() -> None:
    # 0.56 * 1034 = 579.04 -> 579 rows, centred on y = 336 -> top = 336 - 289
    assert crop_rectangle(1034, 851, 129, 336, 0.56) == Crop(0, 47, 1034, 579, 0.56)


def test_tall_ratio_keeps_full_height_and_is_shifted_inside() -> None:
    crop = crop_rectangle(1034, 851, 129, 336, 1.0)
    assert crop.as_tuple() == (0, 0, 851, 851)
    crop = crop_rectangle(1034, 851, 1030, 336, 2.0)  # 851 / 2 = 425.5 -> 426, pushed left
    assert crop.as_tuple() == (1034 - 426, 0, 426, 851)


def test_symmetric_images_are_centred_horizontally() -> None:
    crops = candidate_crops(512, 512, (10, 140), [1.14], symmetric=True)
    assert crops[0].as_tuple() == (32, 0, 449, 512)


def test_default_ratios_end_with_the_image_ratio() -> None:
    ratios = default_aspect_ratios(640, 480)
    assert tuple(ratios[:4]) == DEFAULT_ASPECT_RATIOS
    assert ratios[4] == pytest.approx(0.75)
    assert candidate_crops(640, 480, (5, 5))[-1].as_tuple() == (0, 0, 640, 480)


@pytest.mark.parametrize("bad", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_aspect_ratio_is_rejected(bad: float) -> None:
    with pytest.raises(ValueError, match="aspect ratio"):
        crop_rectangle(100, 100, 50, 50, bad)


def test_intersection_area() -> None:
    crop = Crop(10, 10, 100, 50, 0.5)
    assert intersection_area(crop, (0, 0, 20, 20)) == 100.0
    assert intersection_area(crop, (200, 200, 5, 5)) == 0.0


def test_every_reference_crop_follows_from_the_reference_salient_point(reference_dir) -> None:
    """Given the original's salient point, our geometry reproduces all its crop rectangles.

    Whether an image is treated as symmetric is decided by preprocessing; here either
    centring must explain the printed crops, and both files of an image must agree.
    """
    mismatches = []
    checked = 0
    for name, image in reference_images(reference_dir):
        with Image.open(image) as img:
            w, h = oriented_size(img)
        full = parse_output(reference_dir / "outputs" / f"{name}.out")
        plain = parse_output(reference_dir / "outputs" / f"{name}.plain.out")
        explained = []
        for symmetric in (False, True):
            ours_full = [c.as_tuple() for c in candidate_crops(
                w, h, full.salient_point, DEFAULT_ASPECT_RATIOS, symmetric=symmetric)]
            ours_plain = [c.as_tuple() for c in candidate_crops(
                w, h, plain.salient_point, None, symmetric=symmetric)]
            explained.append(ours_full == full.crops and ours_plain == plain.crops)
        checked += 1
        if not any(explained):
            mismatches.append(name)
    assert checked >= 80
    assert mismatches == []
