"""Face outcomes as rates per group and attribute value, and the tests between them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats import proportion as smp

from cropaudit.stats.face_rates import metrics, observations, rate_tables
from cropaudit.stats.rates import pairwise_differences, rates_by, two_proportions


def test_rates_use_wilson_intervals_and_leave_out_na():
    obs = pd.DataFrame({"g": ["a"] * 6 + ["b"] * 4,
                        "outcome": pd.array([True, True, True, False, None, None,
                                             False, False, True, False], dtype="boolean")})
    rates = rates_by(obs, ["g"]).set_index("g")
    assert rates.loc["a", ["count", "n"]].tolist() == [3, 4]
    low, high = smp.proportion_confint(3, 4, alpha=0.05, method="wilson")
    assert rates.loc["a", "ci_low"] == pytest.approx(low)
    assert rates.loc["a", "ci_high"] == pytest.approx(high)
    assert rates.loc["b", "rate"] == pytest.approx(0.25)


def test_two_proportion_test_is_statsmodels_score_test():
    t = two_proportions(30, 50, 18, 50)
    ref = smp.test_proportions_2indep(30, 50, 18, 50, method="score")
    assert t.diff == pytest.approx(0.24) and t.p_value == pytest.approx(ref.pvalue)
    assert t.diff_low < 0.24 < t.diff_high and t.p_value < 0.05
    same = two_proportions(0, 7, 0, 9)
    assert same.p_value == 1.0 and same.diff == 0.0 and same.diff_low < 0 < same.diff_high


def test_pairwise_differences_follow_the_given_order_and_correct_per_family():
    rates = pd.DataFrame({"measure": ["m"] * 3, "value": ["z", "y", "x"], "count": [9, 5, 1],
                          "n": [10, 10, 10], "rate": [0.9, 0.5, 0.1]})
    out = pairwise_differences(rates, ["measure"], "value", family=["measure"],
                               order={"m": ["z", "y", "x"]})
    assert list(zip(out["value_a"], out["value_b"], strict=True)) == [
        ("z", "y"), ("z", "x"), ("y", "x")]
    assert (out["diff"] > 0).all()
    assert (out["p_value_adjusted"] >= out["p_value"]).all()
    assert out.loc[1, "significant"]


def _tables():
    faces = pd.DataFrame({"image_id": ["f1", "f2", "m1", "m2"], "group": ["f", "f", "m", "m"],
                          "n_faces": [1, 1, 1, 0]})
    image_crops = pd.DataFrame({
        "image_id": ["f1", "f1", "f2", "f2", "m1", "m1", "m2", "m2"],
        "group": ["f", "f", "f", "f", "m", "m", "m", "m"],
        "aspect_ratio": [1.0, 2.0] * 4,
        "salient_in_face": pd.array([False, False, True, True, True, True, None, None],
                                    dtype="boolean"),
        "face_kept": pd.array([False, True, True, True, True, True, None, None],
                              dtype="boolean"),
    })
    attrs = pd.DataFrame({"gender": ["female", "female", "male", "male"]},
                         index=["f1", "f2", "m1", "m2"])
    return faces, image_crops, attrs


def test_observations_count_each_image_once_per_measure_and_ratio():
    faces, image_crops, attrs = _tables()
    obs = observations(crops=None, image_crops=image_crops, faces=faces, attributes=attrs)
    per = obs.groupby("measure").size().to_dict()
    assert per == {"face_detected": 4, "salient_in_face": 4, "face_kept": 8}
    assert set(obs["gender"]) == {"female", "male"}
    assert obs.loc[obs["measure"] != "face_kept", "aspect_ratio"].isna().all()


def test_rate_tables_and_metrics_per_group_and_attribute():
    faces, image_crops, attrs = _tables()
    obs = observations(crops=None, image_crops=image_crops, faces=faces, attributes=attrs)
    rates, comparisons = rate_tables(obs, ["group", "gender"])
    r = rates.set_index(["measure", "level", "value"])
    assert r.loc[("face_detected", "gender", "male"), "rate"] == 0.5
    assert r.loc[("salient_in_face", "gender", "female"), ["count", "n"]].tolist() == [1, 2]
    assert r.loc[("salient_in_face", "gender", "male"), ["count", "n"]].tolist() == [1, 1]
    kept = rates[(rates["measure"] == "face_kept") & (rates["level"] == "group")]
    assert sorted(kept["aspect_ratio"].unique()) == [1.0, 2.0]
    m = metrics(rates, comparisons, {"images": 4})
    assert m["faces"] == {"images": 4}
    assert m["face_rates"]["single"]["face_kept_ar1"]["gender"]["female"] == 0.5
    assert m["face_rates"]["single"]["face_detected"]["group"]["m"] == 0.5
    assert "face_tests" not in m  # rows treated as independent: labelled naive everywhere
    test = m["naive_face_tests"]["single"]["face_detected"]["gender"]["female-vs-male"]
    assert test["diff"] == 0.5 and set(test) == {"diff", "naive_diff_low", "naive_diff_high",
                                                 "naive_p_value_adjusted"}
    assert {"naive_low", "naive_high", "naive_method"} <= set(rates.columns)
    assert "ci_low" not in rates.columns and "p_value" not in comparisons.columns
    # Holm across the whole table, not within source × measure
    assert comparisons["naive_p_value_adjusted"].ge(comparisons["naive_p_value"]).all()


def test_position_adjusted_face_tests_hold_their_level_under_a_pure_position_effect():
    # together composites of 4 groups in all 4 rotations; the salient point lands on the
    # face far more often in the middle positions, whatever the group. 150 runs; nominal 5 %,
    # tolerance 2 points + 2 MC SE (3.6 points)
    from cropaudit.stats.face_rates import position_adjusted_tests

    rng = np.random.default_rng(4)
    reps, bases, k, images = 150, 60, 4, 30
    p_by_position = np.array([0.2, 0.5, 0.5, 0.2])
    rejects = 0
    for _ in range(reps):
        idx = rng.integers(0, images, (bases, k))
        composite = [tuple(f"g{g}-{i}" for g, i in enumerate(row)) for row in idx]
        rows = []
        for rotation in range(k):
            arrangement = np.roll(np.arange(k), -rotation)
            for pos, g in enumerate(arrangement):
                rows.append(pd.DataFrame({
                    "source": "together", "measure": "salient_in_face", "aspect_ratio": np.nan,
                    "image_id": [f"g{g}-{i}" for i in idx[:, g]],
                    "images": composite, "position": pos,
                    "group": f"g{g}",
                    "outcome": rng.random(bases) < p_by_position[pos]}))
        obs = pd.concat(rows, ignore_index=True)
        out = position_adjusted_tests(obs, ["group"])
        rejects += out["joint_p_value"].iloc[0] < 0.05
    rate = rejects / reps
    assert abs(rate - 0.05) <= 0.02 + 2 * np.sqrt(0.05 * 0.95 / reps), rate
