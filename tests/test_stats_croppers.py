"""Comparing croppers on the same tuples: agreement, the paired clustered test of Δ₁ − Δ₂,
forest plot; and the known answer of the ``center`` cropper on the demo dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import chisquare

from cropaudit.errors import InputFileError
from cropaudit.reporting.figures.croppers import cropper_forest
from cropaudit.stats.croppers import (
    compare_croppers,
    compare_two,
    cropper_pairs,
    delta_by_cropper,
    disagreement_summary,
    paired_difference,
)


def simulated_pairs(p_by_cropper: dict[str, float], n: int = 400, images: int = 40,
                    seed: int = 1) -> pd.DataFrame:
    """Tuples of two groups drawn from ``images`` images each; every cropper sees them all.

    Each cropper keeps group a's member with its own probability; croppers with the same p
    share the same draws (they agree), others draw independently.
    """
    rng = np.random.default_rng(seed)
    ia = rng.integers(0, images, n)
    ib = rng.integers(0, images, n)
    u = rng.random(n)
    frames = []
    for name, p in p_by_cropper.items():
        frames.append(pd.DataFrame({
            "cropper": name, "comparison": "a~b", "tuple_id": np.arange(n),
            "image_a": [f"a{i}" for i in ia], "image_b": [f"b{i}" for i in ib],
            "group_a": "a", "group_b": "b", "a_won": (u < p).astype(int),
        }))
    return pd.concat(frames, ignore_index=True)


def test_identical_croppers_agree_everywhere():
    pairs = simulated_pairs({"one": 0.7, "two": 0.7})
    (row,) = compare_two(pairs, "one", "two").to_dict("records")
    assert row["agreement"] == 1.0 and row["p_value"] == 1.0
    assert row["difference"] == 0.0 and row["diff_low"] == 0.0 == row["diff_high"]
    assert not compare_croppers(pairs)["disagree"].any()
    assert disagreement_summary(compare_croppers(pairs))[0].startswith("No two")


def test_croppers_that_flip_direction_disagree_and_the_difference_is_recovered():
    pairs = simulated_pairs({"twitter": 0.8, "apple": 0.3}, n=600)
    table = compare_croppers(pairs)
    (row,) = table.to_dict("records")
    assert row["disagree"] and row["p_value_holm"] < 1e-6
    assert row["diff_low"] < 0.5 < row["diff_high"]  # true Δ₁ − Δ₂ = 0.8 − 0.3
    assert row["diff_low"] > 0.3
    # the second listed group is favoured by one and disfavoured by the other
    deltas = delta_by_cropper(pairs).set_index("cropper")
    assert deltas.loc["twitter", "delta_low"] > 0 > deltas.loc["apple", "delta_high"]
    for name in ("twitter", "apple"):
        assert deltas.loc[name, "delta_low"] < deltas.loc[name, "delta"] \
            < deltas.loc[name, "delta_high"]
    assert "twitter vs apple on a~b" in disagreement_summary(table)[0]


def test_paired_difference_is_clustered_on_both_images():
    # 5 images per side, each shown many times: the discordant tuples concentrate on a few
    # images, so the clustered SE is far wider than McNemar's (tuples independent) would be
    rng = np.random.default_rng(4)
    n, images = 600, 5
    ia, ib = rng.integers(0, images, n), rng.integers(0, images, n)
    prefer = rng.normal(0, 1.5, images)  # cropper 1 likes some a-images, cropper 2 does not
    y1 = (rng.random(n) < 1 / (1 + np.exp(-prefer[ia]))).astype(int)
    y2 = (rng.random(n) < 1 / (1 + np.exp(prefer[ia]))).astype(int)
    frame = pd.DataFrame({"image_a": [f"a{i}" for i in ia], "image_b": [f"b{i}" for i in ib]})
    fit = paired_difference(y1 - y2, frame, clusters=images)
    naive_se = np.std(y1 - y2, ddof=1) / np.sqrt(n)
    assert fit.se > 3 * naive_se
    assert fit.low < fit.mean < fit.high and not fit.problem


def test_comparison_is_deterministic():
    pairs = simulated_pairs({"x": 0.6, "y": 0.5})
    pd.testing.assert_frame_equal(compare_two(pairs, "x", "y"), compare_two(pairs, "x", "y"))


def test_croppers_must_have_seen_the_same_tuples():
    pairs = simulated_pairs({"x": 0.6, "y": 0.5})
    pairs = pairs[~((pairs["cropper"] == "y") & (pairs["tuple_id"] == 3))]
    with pytest.raises(InputFileError, match="did not see the same tuples"):
        compare_two(pairs, "x", "y")


def test_forest_has_one_interval_per_cropper_and_comparison():
    pairs = simulated_pairs({"x": 0.6, "y": 0.4, "z": 0.5})
    pairs = pd.concat([pairs, pairs.assign(comparison="c~d")], ignore_index=True)
    deltas = delta_by_cropper(pairs)
    fig = cropper_forest(deltas, title="t")
    ax = fig.axes[0]
    intervals = [ln for ln in ax.lines if len(ln.get_xdata()) == 2 and ln.get_linewidth() == 2]
    assert len(intervals) == 3 * 2
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a~b", "c~d"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["x", "y", "z"]


# -- known answer on the demo: `center` has no group effect ---------------------------------

@pytest.fixture(scope="module")
def center_outcomes(tmp_path_factory):
    """The demo's tuples through the real stages (prepare-data, sample-pairs, pair-saliency
    --cropper center, gather), as the workflow runs them."""
    from cropaudit.cli import main
    from cropaudit.contracts import read_outcomes
    from support.workflow import config_of, write_yaml

    root = tmp_path_factory.mktemp("demo-center")
    write_yaml(root / "params.yaml", config_of({"croppers": ["center"]}))
    params = str(root / "params.yaml")
    table = root / "images.parquet"
    steps = [
        ["prepare-data", "--params", params, "--out", str(table)],
        ["sample-pairs", "--params", params, "--dataset", str(table),
         "--out", str(root / "pairs.parquet")],
        ["pair-saliency", "--params", params, "--dataset", str(table),
         "--pairs", str(root / "pairs.parquet"), "--cropper", "center",
         "--out", str(root / "shard.parquet")],
        ["gather", "--out", str(root / "outcomes.parquet"), str(root / "shard.parquet")],
    ]
    for argv in steps:
        assert main(argv) == 0, argv
    return read_outcomes(root / "outcomes.parquet")


def test_center_shows_no_group_effect_on_the_demo_pairs(center_outcomes):
    from statsmodels.stats.multitest import multipletests

    assert set(center_outcomes["model"]) == {"center"}
    deltas = delta_by_cropper(cropper_pairs({"center": center_outcomes}))
    assert len(deltas) == 6  # every pair of the demo's four groups
    adjusted = multipletests(deltas["p_value"].fillna(1.0), method="holm")[1]
    assert (adjusted > 0.05).all(), deltas
    assert (deltas["delta_low"] < 0).all() and (deltas["delta_high"] > 0).all()


def test_center_shows_no_group_effect_in_all_groups_at_once(center_outcomes):
    """With k-way tuples counterbalanced over positions (cyclic orders), a centre crop's
    preference for the middle positions spreads evenly over the groups."""
    together = center_outcomes[center_outcomes["kind"] == "together"]
    wins = together[together["won"].astype(bool)].groupby("group").size()
    groups = sorted(together["group"].unique())
    counts = wins.reindex(groups, fill_value=0).to_numpy()
    assert counts.sum() == together["tuple_id"].nunique() > 0
    assert chisquare(counts).pvalue > 0.05, dict(zip(groups, counts, strict=True))
