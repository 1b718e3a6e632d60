"""Known-answer checks of the statistics: coverage, clustering, TOST, power, distributions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from cropaudit.stats.bootstrap import BootstrapUnit, cluster_bootstrap
from cropaudit.stats.clustered import robust_logit
from cropaudit.stats.distributions import score_comparison
from cropaudit.stats.equivalence import tost_p_value, verdict
from cropaudit.stats.multinomial import together_table
from cropaudit.stats.power import min_detectable_delta, pairs_needed
from cropaudit.stats.proportions import adjust, interval, proportion


@pytest.mark.parametrize("p_true", [0.5, 0.55])
def test_wilson_interval_covers_at_nominal_rate(p_true: float) -> None:
    # 4000 seeded replicates of n = 400 Bernoulli draws. Monte Carlo SE of a 95% coverage is
    # sqrt(.95·.05/4000) = 0.0034; Wilson's coverage also oscillates with n by up to ~0.01,
    # so the tolerance is ±0.02 around 0.95.
    rng = np.random.default_rng(2021)
    n, reps = 400, 4000
    counts = rng.binomial(n, p_true, size=reps)
    low, high = interval(counts, n, 0.05, "wilson")
    coverage = np.mean((low <= p_true) & (p_true <= high))
    assert abs(coverage - 0.95) <= 0.02, coverage


def test_proportion_summary_matches_the_paper_formula() -> None:
    prop = proportion(4336, 10000)
    assert prop.delta == pytest.approx(-0.0664)
    se = np.sqrt(0.4336 * 0.5664 / 10000)
    assert (prop.wald_low, prop.wald_high) == pytest.approx((0.4336 - 2 * se, 0.4336 + 2 * se))
    assert prop.ci_low < prop.p < prop.ci_high
    assert prop.p_value < 1e-30
    assert proportion(50, 100).p_value == pytest.approx(1.0)


def test_holm_equals_statsmodels_to_the_last_bit(monkeypatch) -> None:
    import gc

    from statsmodels.stats.multitest import multipletests

    # statsmodels' Holm runs gc.collect() per call: seconds each in a long test session
    monkeypatch.setattr(gc, "collect", lambda *args: 0)

    rng = np.random.default_rng(5)
    for size in (1, 2, 3, 7, 40):
        for _ in range(50):
            p = rng.uniform(0, 0.2, size) ** rng.uniform(0.5, 3)
            p[rng.random(size) < 0.2] = p[0]  # ties
            assert np.array_equal(adjust(p, "holm"), multipletests(p, method="holm")[1])


def test_multiple_comparison_adjustment_skips_rows_outside_the_family() -> None:
    holm = adjust([0.01, np.nan, 0.04, 0.03], "holm")
    assert np.isnan(holm[1])
    assert holm[[0, 2, 3]] == pytest.approx([0.03, 0.06, 0.06])
    bh = adjust([0.01, 0.04, 0.03], "bh")
    assert bh == pytest.approx([0.03, 0.04, 0.04])


def _pairs(rng, images: int, pairs: int, image_sd: float):
    """Pairs between two groups of ``images`` images with per-image effects."""
    ua, ub = rng.normal(0, image_sd, images), rng.normal(0, image_sd, images)
    ia, ib = rng.integers(0, images, pairs), rng.integers(0, images, pairs)
    y = (rng.random(pairs) < 1 / (1 + np.exp(-(ua[ia] - ub[ib])))).astype(int)
    group = np.repeat([0, 1], images)
    return BootstrapUnit(ia, ib + images, y), group


def test_bootstrap_design_effect_is_one_for_independent_pairs() -> None:
    unit, group = _pairs(np.random.default_rng(5), images=3000, pairs=6000, image_sd=0.0)
    (res,) = cluster_bootstrap([unit], group, resamples=1000, seed=1)
    assert 0.8 < res.design_effect < 1.25
    naive = proportion(int(unit.y.sum()), len(unit.y))
    assert res.high - res.low == pytest.approx(naive.ci_high - naive.ci_low, rel=0.15)


def test_bootstrap_widens_interval_when_images_are_reused() -> None:
    # 20 images per group in 4000 pairs: each image is in ~200 pairs, with strong image effects
    unit, group = _pairs(np.random.default_rng(6), images=20, pairs=4000, image_sd=1.0)
    (res,) = cluster_bootstrap([unit], group, resamples=2000, seed=1)
    naive = proportion(int(unit.y.sum()), len(unit.y))
    assert res.design_effect > 5
    assert res.high - res.low > 2 * (naive.ci_high - naive.ci_low)
    # the cluster-robust logit (the headline) agrees with the bootstrap cross-check
    robust = robust_logit(unit.y, np.column_stack([unit.image_a, unit.image_b]), clusters=20)
    assert robust.se == pytest.approx(res.se, rel=0.2)
    assert robust.low < robust.p < robust.high and not robust.problem


def test_bootstrap_interval_covers_where_the_naive_one_does_not() -> None:
    # the population p is 0.5 (symmetric image effects); each replicate draws new images
    rng = np.random.default_rng(7)
    covered_boot = covered_naive = 0
    reps = 150
    for r in range(reps):
        unit, group = _pairs(rng, images=25, pairs=1000, image_sd=1.0)
        (res,) = cluster_bootstrap([unit], group, resamples=300, seed=r)
        naive = proportion(int(unit.y.sum()), len(unit.y))
        covered_boot += res.low <= 0.5 <= res.high
        covered_naive += naive.ci_low <= 0.5 <= naive.ci_high
    # MC SE at 150 replicates ≈ 0.018; the bootstrap is asymptotic in the number of images
    # (25 per group), so allow 0.87; the naive interval is far below nominal
    assert covered_boot / reps >= 0.87
    assert covered_naive / reps < 0.7


def test_bootstrap_is_reproducible_from_its_seed() -> None:
    unit, group = _pairs(np.random.default_rng(8), images=30, pairs=500, image_sd=0.5)
    a = cluster_bootstrap([unit], group, resamples=200, seed=3)
    b = cluster_bootstrap([unit], group, resamples=200, seed=3)
    c = cluster_bootstrap([unit], group, resamples=200, seed=4)
    assert a == b and a != c


@pytest.mark.parametrize(
    ("count", "n", "expected"),
    [
        (5000, 10000, "equivalent"),  # Δ = 0, tight interval inside ±0.02
        (5600, 10000, "differs"),  # Δ = +0.06, far outside
        (52, 100, "inconclusive"),  # too few pairs to say anything
        (5050, 10000, "equivalent"),  # Δ = +0.005: significant or not, within tolerance
    ],
)
def test_tost_verdicts_on_clear_cases(count: int, n: int, expected: str) -> None:
    equiv = tost_p_value(count, n, margin=0.02)
    diff = proportion(count, n).p_value
    assert verdict(equiv, diff, 0.05) == expected


def test_power_against_textbook_numbers() -> None:
    # Cohen (1988): one-sample test, h = 0.2, α = .05 two-sided, power .80 -> n = 196
    h = 0.2
    delta = np.sin(h / 2 + np.arcsin(np.sqrt(0.5))) ** 2 - 0.5  # p whose h against 0.5 is 0.2
    assert round(pairs_needed(delta, 0.05, 0.8)) == 196
    # closed form n = ((z_.975 + z_.80) / h)² for Δ = 0.02: h = 0.0400, n ≈ 4903
    h2 = 2 * np.arcsin(np.sqrt(0.52)) - 2 * np.arcsin(np.sqrt(0.5))
    expected = ((norm.ppf(0.975) + norm.ppf(0.8)) / h2) ** 2
    # (statsmodels also counts the far tail of the two-sided test: +0.01 pairs)
    assert pairs_needed(0.02) == pytest.approx(expected, rel=1e-5)
    assert round(expected) == 4903
    # the paper's n = 10,000 per comparison detects |Δ| ≥ 1.4 pp; deff 2 doubles the pairs
    assert min_detectable_delta(10000) == pytest.approx(0.0140, abs=0.0001)
    assert pairs_needed(0.02, design_effect=2) == pytest.approx(2 * expected, rel=1e-5)
    assert min_detectable_delta(pairs_needed(0.03)) == pytest.approx(0.03, abs=1e-6)


def test_power_holds_in_simulation() -> None:
    rng = np.random.default_rng(9)
    n = round(pairs_needed(0.03))
    counts = rng.binomial(n, 0.53, size=3000)
    z = (counts / n - 0.5) / np.sqrt(0.25 / n)
    power = np.mean(np.abs(z) > norm.ppf(0.975))
    assert power == pytest.approx(0.8, abs=0.03)  # MC SE 0.007


def test_score_comparison_recovers_probability_of_superiority() -> None:
    rng = np.random.default_rng(10)
    a, b = rng.normal(1, 1, 400), rng.normal(0, 1, 400)
    res = score_comparison(a, b)
    truth = norm.cdf(1 / np.sqrt(2))  # P(X > Y) for N(1,1) vs N(0,1) = 0.760
    assert res["low"] <= truth <= res["high"]
    assert res["prob_a_greater"] == pytest.approx(truth, abs=0.04)
    assert res["mann_whitney_p_value"] < 1e-10


def test_together_table_chi_square_and_intervals() -> None:
    t = together_table("a~b~c~d", list("abcd"), [1205, 923, 1756, 1116])
    assert t["share"].sum() == pytest.approx(1.0)
    assert (t["ci_low"] < t["share"]).all() and (t["share"] < t["ci_high"]).all()
    # scipy chi-square by hand: expected 1250 each
    chi2 = sum((c - 1250) ** 2 / 1250 for c in (1205, 923, 1756, 1116))
    assert t["chi2"].iloc[0] == pytest.approx(chi2)
    assert t["chi2_p_value"].iloc[0] < 1e-50
    flat = together_table("a~b~c~d", list("abcd"), [250, 250, 250, 250])
    assert flat["chi2_p_value"].iloc[0] == pytest.approx(1.0)
    # simultaneous intervals are wider than marginal ones
    assert ((t["ci_high"] - t["ci_low"]) > (t["marginal_high"] - t["marginal_low"])).all()


def test_the_kway_flag_follows_the_regime_the_study_measured():
    """docs/statistics.md: above 7 % with 20 images per group drawn 12.5 or 50 times each;
    within target with 40 or 80 images, or with 5 draws per image."""
    from cropaudit.stats.multinomial import above_nominal

    assert above_nominal(tuples=4 * 250, clusters=20, k=4)      # 12.5 draws per image
    assert above_nominal(tuples=4 * 1000, clusters=20, k=4)     # 50
    assert not above_nominal(tuples=4 * 100, clusters=20, k=4)  # 5
    assert not above_nominal(tuples=4 * 1000, clusters=40, k=4)
    assert not above_nominal(tuples=4 * 250, clusters=80, k=4)
