"""Disparity tables, interactions, headline intervals and per-comparison statements."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cropaudit.stats.audit import audit, detectable_alpha, interaction_table
from cropaudit.stats.disparity import INSUFFICIENT, disparity_rows
from cropaudit.stats.params import StatsParams
from cropaudit.stats.power import min_detectable_delta
from cropaudit.stats.summary import metrics, summary_markdown
from simulate import simulate_outcomes

ATTRS = ["race", "gender"]


def _obs(rates: dict[str, tuple[int, int]], images_per_row: bool = True) -> pd.DataFrame:
    rows = []
    for value, (count, n) in rates.items():
        for i in range(n):
            rows.append({"value": value, "outcome": i < count, "image_id": f"{value}{i}",
                         "tuple": f"t{value}{i}"})
    return pd.DataFrame(rows)


def test_disparity_rows_known_answers_with_independent_rows() -> None:
    d = disparity_rows(_obs({"a": (60, 200), "b": (40, 200)}), reference="b",
                       clusters=("image_id", "tuple")).set_index("value")
    assert d.loc["a", "rate"] == pytest.approx(0.3)
    assert d.loc["a", "diff"] == pytest.approx(0.1)
    assert d.loc["a", "ratio"] == pytest.approx(1.5)
    # one row per image and tuple: the clustered SE is the binomial one (× G/(G−1))
    assert d.loc["a", "se"] == pytest.approx(np.sqrt(0.3 * 0.7 / 200 * 200 / 199), rel=1e-6)
    assert d.loc["a", "design_effect"] == pytest.approx(1.0, abs=0.01)
    assert d.loc["a", "diff_low"] < 0.1 < d.loc["a", "diff_high"]
    assert d.loc["b", "evidence"] == "reference"
    assert d.loc["a", "evidence"] == "differs"  # z ≈ 2.3
    assert "30.0% of 200 observations" in d.loc["a", "explanation"]
    small = disparity_rows(_obs({"a": (6, 20), "b": (4, 200)}), min_n=30).set_index("value")
    assert small.loc["a", "evidence"] == INSUFFICIENT
    assert INSUFFICIENT in small.loc["a", "explanation"]


def test_disparity_difference_interval_covers_with_reused_images() -> None:
    # two groups of 20 images, each image observed 10 times with its own rate (sd 1 on the
    # log-odds scale), no true difference. 300 runs: tolerance 2 points + 2 MC SE (2.5).
    rng = np.random.default_rng(8)
    reps, images, per = 300, 20, 10
    hits = 0
    for _ in range(reps):
        frames = []
        for value in ("a", "b"):
            p = 1 / (1 + np.exp(-rng.normal(0, 1, images)))
            img = np.repeat(np.arange(images), per)
            frames.append(pd.DataFrame({"value": value, "image_id": [f"{value}{i}" for i in img],
                                        "tuple": np.arange(len(img)).astype(str) + value,
                                        "outcome": rng.random(len(img)) < p[img]}))
        d = disparity_rows(pd.concat(frames), reference="b", clusters=("image_id", "tuple"))
        a = d.set_index("value").loc["a"]
        hits += a["diff_low"] <= 0 <= a["diff_high"]
    se = np.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) <= 0.02 + 2 * se, hits / reps


def test_interaction_is_a_difference_of_independent_clustered_estimates() -> None:
    comparisons = pd.DataFrame({
        "setting": "", "kind": "pair",
        "comparison": ["b_f~b_m", "w_f~w_m", "b_f~w_f"],
        "group_a": ["b_f", "w_f", "b_f"], "group_b": ["b_m", "w_m", "w_f"],
        "p": [0.60, 0.52, 0.5], "boot_se": [0.03, 0.04, 0.02], "robust_se": np.nan,
        "n_images_a": 30, "n_images_b": 40,
    })
    params = StatsParams(aggregates=[{"name": "gender", "attribute": "gender",
                                      "first": "f", "second": "m"}])
    t = interaction_table(comparisons, params, ["race", "gender"])
    assert len(t) == 1
    r = t.iloc[0]
    assert (r["by"], r["value_1"], r["value_2"]) == ("race", "b", "w")
    assert r["did"] == pytest.approx(0.08)
    assert r["se"] == pytest.approx(0.05)
    from scipy.stats import t as student_t

    q = student_t.ppf(0.975, 29)
    assert (r["low"], r["high"]) == pytest.approx((0.08 - q * 0.05, 0.08 + q * 0.05))


@pytest.fixture(scope="module")
def result():
    df = simulate_outcomes(11, strength={"white_female": 0.4}, image_sd=0.5,
                           images_per_group=25, bases_per_comparison=150)
    # one comparison shown in a single order only, with a strong left preference
    single = df[(df["comparison"] == "black_male~white_male") & (df["order"] == 1)]
    df = df.drop(single.index)
    return audit(df, StatsParams(bootstrap_resamples=300), ATTRS, seed=2)


def test_headline_interval_is_the_clustered_one(result) -> None:
    c = result.comparisons
    assert (c["ci_low"] == c["boot_low"]).all() and (c["ci_high"] == c["boot_high"]).all()
    assert (c["naive_high"] - c["naive_low"] < c["ci_high"] - c["ci_low"]).all()
    text = summary_markdown(result)
    row = next(line for line in text.splitlines() if line.startswith("| WF ↔ WM"))
    r = c.set_index("label").loc["WF ↔ WM"]
    assert f"[{r.ci_low:.3f}, {r.ci_high:.3f}]" in row.split("|")[3]


def test_counterbalancing_is_stated_per_comparison(result) -> None:
    c = result.comparisons.set_index("comparison")
    assert not c.loc["black_male~white_male", "counterbalanced"]
    assert c.loc["black_male~white_male", "first_left_share"] == 1.0
    assert c.loc["black_female~white_female", "counterbalanced"]
    text = summary_markdown(result)
    assert "Not counterbalanced: BM ↔ WM (first group left in 100%)" in text
    assert "free of it" not in text


def test_minimum_detectable_delta_uses_the_corrected_level(result) -> None:
    c = result.comparisons
    m = int(c["primary"].sum())
    assert (c["alpha_detectable"] == detectable_alpha(0.05, m)).all()
    r = c.iloc[0]
    assert r["min_detectable_delta"] == pytest.approx(min_detectable_delta(r["n"], 0.05 / m))


def test_disparities_reach_the_summary_and_metrics(result) -> None:
    d = result.disparities
    assert set(d["level"]) == {"group", "race", "gender"}
    gender = d[d["level"] == "gender"].set_index("value")
    assert gender.loc["male", "evidence"] == "reference"  # the aggregate's second value
    m = metrics(result)
    assert m["disparities"]["gender"]["female"]["rate"] == pytest.approx(gender.loc["female",
                                                                                   "rate"])
    assert "interactions" in m
    text = summary_markdown(result)
    assert "#### Disparities" in text and "#### Interactions" in text


def test_interval_labels_follow_alpha() -> None:
    df = simulate_outcomes(1, images_per_group=20, bases_per_comparison=60, together_tuples=30)
    result = audit(df, StatsParams(alpha=0.1, bootstrap_resamples=100), ATTRS, seed=1)
    text = summary_markdown(result)
    assert "90%" in text and "95%" not in text


def test_simulated_salient_point_lies_in_the_winner() -> None:
    df = simulate_outcomes(3, images_per_group=10, bases_per_comparison=20, together_tuples=10)
    inside = ((df["salient_x"] >= df["x"]) & (df["salient_x"] < df["x"] + df["width"])
              & (df["salient_y"] >= df["y"]) & (df["salient_y"] < df["y"] + df["height"]))
    assert (inside == df["won"]).all()


def test_together_members_accept_rotations_and_reject_a_repeated_group() -> None:
    from cropaudit.errors import InputFileError
    from cropaudit.stats.outcomes import together_members

    df = simulate_outcomes(5, images_per_group=10, bases_per_comparison=5, together_tuples=6)
    members = together_members(df)
    assert set(members["order"]) == {0, 1, 2, 3}  # the four cyclic rotations
    # every member's canonical index is its group's place in the comparison
    groups = members["comparison"].str.split("~")
    assert all(g[i] == grp for g, i, grp in zip(groups, members["group_index"],
                                                members["group"], strict=True))
    bad = df.copy()
    row = bad.index[(bad["kind"] == "together") & (bad["order"] == 2) & (bad["position"] == 1)][0]
    twin = bad.index[(bad["tuple_id"] == bad.loc[row, "tuple_id"]) & (bad["position"] == 2)][0]
    bad.loc[twin, "group"] = bad.loc[row, "group"]
    with pytest.raises(InputFileError, match="comparison says otherwise"):
        together_members(bad)
