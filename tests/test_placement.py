"""Composition geometry: member rectangles, composite size, who holds a point."""

from __future__ import annotations

import pytest

from cropaudit.geometry.placement import compose, scaled_size


def test_horizontal_members_side_by_side_with_padding_and_top_aligned():
    g = compose([(100, 50), (30, 80), (20, 20)], layout="horizontal", padding=5)
    assert [p.as_box() for p in g.placements] == [(0, 0, 100, 50), (105, 0, 30, 80),
                                                  (140, 0, 20, 20)]
    assert (g.width, g.height) == (160, 80)


def test_vertical_members_stacked_left_aligned():
    g = compose([(100, 50), (30, 80)], layout="vertical", padding=10)
    assert [p.as_box() for p in g.placements] == [(0, 0, 100, 50), (0, 60, 30, 80)]
    assert (g.width, g.height) == (100, 140)


@pytest.mark.parametrize(
    ("scaling", "size", "expected"),
    [("none", 0, (300, 200)), ("fixed_height", 100, (150, 100)), ("max_side", 150, (150, 100)),
     ("max_side", 600, (600, 400))],
)
def test_scaling_modes(scaling, size, expected):
    w, h, s = scaled_size(300, 200, scaling, size)
    assert (w, h) == expected
    assert s == pytest.approx(expected[0] / 300)


def test_fixed_height_makes_every_member_the_same_height():
    g = compose([(640, 480), (200, 900), (33, 17)], scaling="fixed_height", scaling_size=256)
    assert {p.height for p in g.placements} == {256}
    assert g.height == 256


def test_every_point_of_the_composite_belongs_to_exactly_one_member():
    g = compose([(40, 30), (25, 60)], padding=7)
    owners = {g.member_at(x + 0.5, y + 0.5) for x in range(g.width) for y in range(g.height)}
    assert owners == {0, 1}
    # inside rectangles the owner is the containing member
    assert g.member_at(10, 10) == 0 and g.member_at(50, 50) == 1
    # padding goes to the nearest member; the empty area under the shorter first member too
    assert g.member_at(41, 5) == 0 and g.member_at(46, 5) == 1
    assert g.member_at(5, 55) == 0 and g.member_at(39, 55) == 1


def test_invalid_inputs_are_rejected():
    with pytest.raises(ValueError, match="at least one member"):
        compose([])
    with pytest.raises(ValueError, match="padding must be >= 0"):
        compose([(10, 10)], padding=-1)
    with pytest.raises(ValueError, match="image size must be positive"):
        scaled_size(0, 10, "none", 0)
