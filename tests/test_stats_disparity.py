"""Disparity tables, interactions, headline intervals and per-comparison statements."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cropaudit.stats.audit import audit, detectable_alpha, interaction_table
from cropaudit.stats.disparity import INSUFFICIENT, disparity_rows
from cropaudit.stats.groups import Group
from cropaudit.stats.params import StatsParams
from cropaudit.stats.power import min_detectable_delta, min_detectable_delta_clustered
from cropaudit.stats.summary import metrics, summary_markdown
from simulate import simulate_outcomes, simulated_groups


def _obs(rates: dict[str, tuple[int, int]], images_per_row: bool = True) -> pd.DataFrame:
    rows = []
    for value, (count, n) in rates.items():
        for i in range(n):
            rows.append({"value": value, "outcome": i < count, "image_id": f"{value}{i}",
                         "images": (f"{value}{i}",)})
    return pd.DataFrame(rows)


def test_disparity_rows_known_answers_with_independent_rows() -> None:
    d = disparity_rows(_obs({"a": (60, 200), "b": (40, 200)}), reference="b").set_index("value")
    assert d.loc["a", "rate"] == pytest.approx(0.3)
    assert d.loc["a", "diff"] == pytest.approx(0.1)
    assert d.loc["a", "ratio"] == pytest.approx(1.5)
    # one image per row: the CR3 variance is Σ (e_i / (n − 1))² × (G − 1)/G = p(1 − p)/(n − 1)
    assert d.loc["a", "se"] == pytest.approx(np.sqrt(0.3 * 0.7 / 199), rel=1e-6)
    assert d.loc["a", "design_effect"] == pytest.approx(1.0, abs=0.01)
    assert d.loc["a", "diff_low"] < 0.1 < d.loc["a", "diff_high"]
    assert d.loc["b", "evidence"] == "reference"
    assert d.loc["a", "evidence"] == "differs"  # z ≈ 2.3
    assert d.loc["a", "clusters"] == 200
    assert "30.0% of 200 observations" in d.loc["a", "explanation"]
    small = disparity_rows(_obs({"a": (6, 20), "b": (4, 200)}), min_n=30).set_index("value")
    assert small.loc["a", "evidence"] == INSUFFICIENT
    assert INSUFFICIENT in small.loc["a", "explanation"]


def test_disparity_clusters_on_the_opponent_image_too() -> None:
    # every observation has an image of its own, but all face one of 4 opponents whose
    # strength decides the outcome: only the opponent's label can see that correlation.
    # Clustered on the own image alone (as before) the design effect was 1.
    rng = np.random.default_rng(3)
    n = 400
    opponent = rng.integers(0, 4, n)
    strength = np.array([-2.0, -0.5, 0.5, 2.0])
    obs = pd.DataFrame({
        "value": np.where(np.arange(n) % 2 == 0, "a", "b"),
        "image_id": [f"own{i}" for i in range(n)],
        "opponent": [f"opp{j}" for j in opponent],
        "outcome": rng.random(n) < 1 / (1 + np.exp(-strength[opponent])),
    })
    own_only = disparity_rows(obs, images=["image_id"], reference="b").set_index("value")
    both = disparity_rows(obs, images=["image_id", "opponent"], reference="b").set_index("value")
    assert own_only.loc["a", "design_effect"] == pytest.approx(1.0, abs=0.05)
    assert both.loc["a", "design_effect"] > 3 * own_only.loc["a", "design_effect"]
    assert (both.loc["a", "diff_high"] - both.loc["a", "diff_low"]
            > 1.5 * (own_only.loc["a", "diff_high"] - own_only.loc["a", "diff_low"]))


def test_not_estimable_is_said_not_read_as_a_result() -> None:
    # one image per value: no clustered variance (G = 1), so no interval and no verdict
    obs = pd.DataFrame({"value": ["a"] * 40 + ["b"] * 40, "image_id": ["x"] * 40 + ["y"] * 40,
                        "outcome": [True, False] * 40})
    obs["images"] = [(i,) for i in obs["image_id"]]
    d = disparity_rows(obs, reference="b", min_n=1).set_index("value")
    assert d.loc["a", "evidence"] == "not estimable"
    assert np.isnan(d.loc["a", "ci_low"]) and np.isnan(d.loc["a", "diff_low"])
    assert "not estimable" in d.loc["a", "explanation"] and "nan" not in d.loc["a",
                                                                              "explanation"]
    assert d.loc["a", "not_estimable"]


def test_interaction_is_a_difference_of_independent_clustered_estimates() -> None:
    # values with "_" in them: the attributes come from the group table, never the label
    comparisons = pd.DataFrame({
        "setting": "", "kind": "pair",
        "comparison": ["b_x_f~b_x_m", "w_f~w_m", "b_x_f~w_f"],
        "group_a": ["b_x_f", "w_f", "b_x_f"], "group_b": ["b_x_m", "w_m", "w_f"],
        "p": [0.60, 0.52, 0.5], "se": [0.03, 0.04, 0.02], "clusters": 30,
    })
    groups = {label: Group(label, (("race", race), ("gender", gender))) for label, race, gender
              in (("b_x_f", "b_x", "f"), ("b_x_m", "b_x", "m"), ("w_f", "w", "f"),
                  ("w_m", "w", "m"))}
    params = StatsParams(aggregates=[{"name": "gender", "attribute": "gender",
                                      "first": "f", "second": "m"}])
    t = interaction_table(comparisons, params, groups)
    assert len(t) == 1
    r = t.iloc[0]
    assert (r["by"], r["value_1"], r["value_2"]) == ("race", "b_x", "w")
    assert r["did"] == pytest.approx(0.08)
    assert r["se"] == pytest.approx(0.05)
    from scipy.stats import t as student_t

    q = student_t.ppf(0.975, 29)
    assert (r["low"], r["high"]) == pytest.approx((0.08 - q * 0.05, 0.08 + q * 0.05))


def result_outcomes() -> pd.DataFrame:
    df = simulate_outcomes(11, strength={"white_female": 0.4}, image_sd=0.5,
                           images_per_group=25, bases_per_comparison=150)
    # one comparison shown in a single order only, with a strong left preference
    single = df[(df["comparison"] == "black_male~white_male") & (df["order"] == 1)]
    return df.drop(single.index)


@pytest.fixture(scope="module")
def result():
    return audit(result_outcomes(), StatsParams(bootstrap_resamples=300), simulated_groups(),
                 seed=2)


def test_headline_interval_and_verdict_come_from_one_fit(result) -> None:
    from scipy.stats import t as student_t

    from cropaudit.stats.clustered import robust_logit
    from cropaudit.stats.outcomes import pair_tuples

    c = result.comparisons
    assert (c["naive_high"] - c["naive_low"] < c["ci_high"] - c["ci_low"]).all()
    # the interval, the test and the TOST are the robust logit's, clustered on both images
    t = pair_tuples(result_outcomes())
    row = c.set_index("comparison").loc["white_female~white_male"]
    one = t[t["comparison"] == "white_female~white_male"]
    fit = robust_logit(one["a_won"].to_numpy(), one[["image_a", "image_b"]], 25)
    assert (row["ci_low"], row["ci_high"]) == pytest.approx((fit.low, fit.high))
    assert row["p_value_clustered"] == pytest.approx(fit.p_value)
    q = student_t.ppf(0.975, 24)
    # the test rejects exactly when the interval excludes 0.5 (same SE, same t quantile)
    assert (fit.p_value < 0.05) == (not fit.low <= 0.5 <= fit.high)
    assert np.log(fit.high / (1 - fit.high)) == pytest.approx(fit.log_odds + q * fit.log_odds_se)
    # the bootstrap stays a cross-check beside it
    assert c["boot_low"].notna().all() and not (c["ci_low"] == c["boot_low"]).all()
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
    assert r["naive_min_detectable_delta"] == pytest.approx(
        min_detectable_delta(r["n"], 0.05 / m))
    assert r["min_detectable_delta_clustered"] == pytest.approx(
        min_detectable_delta_clustered(r["log_odds_se"], 0.05 / m, 0.8, r["clusters"]))
    # the clustered MDΔ is what the corrected verdict detects: wider than the naive one
    assert (c["min_detectable_delta_clustered"] > c["naive_min_detectable_delta"]).all()


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
    result = audit(df, StatsParams(alpha=0.1, bootstrap_resamples=100), simulated_groups(),
                   seed=1)
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
