"""The embedded demo dataset: deterministic, four groups, varied sizes, one planted feature."""

from __future__ import annotations

import numpy as np
import pytest

from cropaudit.config import parse_params
from cropaudit.datasets import demo
from cropaudit.datasets.prepare import prepare_dataset
from cropaudit.datasets.table import read_table
from cropaudit.errors import ConfigError


def params(**demo_opts):
    return parse_params({"dataset": {"groups": {"attributes": ["feature", "cohort"]},
                                     "demo": {"images_per_group": 8, **demo_opts}}})


def test_generation_is_deterministic_and_complete(tmp_path):
    a = prepare_dataset(params(), tmp_path / "a" / "images.parquet")
    b = prepare_dataset(params(), tmp_path / "b" / "images.parquet")
    assert list(a["sha256"]) == list(b["sha256"])
    table = read_table(tmp_path / "a" / "images.parquet")
    assert table["group"].value_counts().to_dict() == {
        "marked_a": 8, "marked_b": 8, "plain_a": 8, "plain_b": 8}
    for row in table.itertuples():
        assert (tmp_path / "a" / row.path).is_file()
    ratios = table["height"] / table["width"]
    assert ratios.min() < 1.0 < ratios.max()  # landscape and portrait shapes
    assert table["width"].nunique() >= 6  # 8 layouts, shared by the groups
    c = prepare_dataset(params(seed=7), tmp_path / "c" / "images.parquet")
    assert set(c["sha256"]).isdisjoint(a["sha256"])


def test_marked_and_plain_portraits_differ_only_by_the_badge():
    layout = demo.draw_layout(np.random.default_rng(3))
    marked = np.asarray(demo.draw_portrait(layout, np.random.default_rng(11), True), np.int16)
    plain = np.asarray(demo.draw_portrait(layout, np.random.default_rng(11), False), np.int16)
    differs = np.abs(marked - plain).max(axis=2) > 0
    rows, cols = np.nonzero(differs)
    assert differs.any()
    box_area = (np.ptp(rows) + 1) * (np.ptp(cols) + 1)
    assert box_area < 0.15 * differs.size  # one small region
    assert rows.min() > 0.35 * differs.shape[0]  # below the face
    region = marked[rows.min():rows.max() + 1, cols.min():cols.max() + 1].mean(axis=2)
    assert region.max() > 230 and region.min() < 40  # white card with dark text


def test_groups_are_matched_sets_with_independent_details(tmp_path):
    table = prepare_dataset(params(), tmp_path / "images.parquet")
    table["index"] = table["image_id"].str[-3:]
    sizes = table.groupby("index")[["width", "height"]].nunique()
    assert (sizes == 1).all().all()  # image i has one size in every group
    assert table["sha256"].nunique() == len(table)  # but no two images are the same


def test_grouping_by_one_attribute_pools_cohorts(tmp_path):
    p = parse_params({"dataset": {"groups": {"attributes": ["feature"]},
                                  "demo": {"images_per_group": 3}}})
    table = prepare_dataset(p, tmp_path / "images.parquet")
    assert table["group"].value_counts().to_dict() == {"marked": 6, "plain": 6}


def test_unknown_attribute_is_a_config_error(tmp_path):
    p = parse_params({"dataset": {"groups": {"attributes": ["race", "gender"]}}})
    with pytest.raises(ConfigError, match=r"dataset\.groups\.attributes"):
        prepare_dataset(p, tmp_path / "images.parquet")
    assert not (tmp_path / "images.parquet").exists()
