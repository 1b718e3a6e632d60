"""Equivalence to parity: "no meaningful bias" has to be shown, not inferred from p > α.

A non-significant difference is not evidence of fairness; a small sample is non-significant
for any bias. TOST (two one-sided tests) shows that p lies inside 0.5 ± margin. Each
comparison gets one of four verdicts:

* ``equivalent``: TOST rejects a difference of margin or more (whatever the point test says:
  a tiny but significant difference inside the tolerance is still practically parity);
* ``differs``: the test of p = 0.5 rejects, and equivalence is not shown;
* ``inconclusive``: neither; more images are needed (see the minimum detectable Δ and the
  equivalence bound);
* ``not estimable``: the clustered variance could not be estimated (the reason is given).

The verdict's TOST is the clustered one (:func:`clustered_tost_p_value`: the same
cluster-robust logit, t on G − 1 df, as the interval shown beside p). The *equivalence bound*
(:func:`equivalence_bound`) is the smallest margin this TOST would accept at a given level:
how close to parity the data can vouch for, whatever margin was configured.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from cropaudit.stats.clustered import RobustResult

Verdict = Literal["equivalent", "differs", "inconclusive", "not estimable"]
NOT_ESTIMABLE: Verdict = "not estimable"
VERDICTS: tuple[Verdict, ...] = ("equivalent", "differs", "inconclusive", NOT_ESTIMABLE)


def tost_p_value(count: int, n: int, margin: float) -> float:
    """TOST p-value for 0.5 − margin < p < 0.5 + margin (exact binomial, statsmodels).

    Treats the n tuples as independent: the audit reports it as ``naive_tost_p_value``.
    """
    from statsmodels.stats.proportion import binom_tost

    if n <= 0:
        return float("nan")
    return float(binom_tost(int(count), int(n), 0.5 - margin, 0.5 + margin)[0])


def _logit(p: float) -> float:
    return math.log(p / (1 - p))


def clustered_tost_p_value(fit: RobustResult, margin: float) -> float:
    """TOST of 0.5 − margin < p < 0.5 + margin on the logit scale with the clustered SE of
    ``fit`` and Student's t on G − 1 df (NaN when ``fit`` is not estimable)."""
    from scipy.stats import t

    if fit.problem or not fit.log_odds_se > 0:
        return float("nan")
    low = (fit.log_odds - _logit(0.5 - margin)) / fit.log_odds_se
    high = (_logit(0.5 + margin) - fit.log_odds) / fit.log_odds_se
    return float(max(t.sf(low, fit.df), t.sf(high, fit.df)))


def equivalence_bound(log_odds: float, log_odds_se: float, alpha: float, clusters: int
                      ) -> float:
    """Smallest margin m for which the clustered TOST at level ``alpha`` shows
    0.5 − m < p < 0.5 + m: the farther end of the 1 − 2α logit interval from 0.5.

    NaN when there is no clustered SE.
    """
    from scipy.stats import t

    if not (math.isfinite(log_odds) and math.isfinite(log_odds_se) and log_odds_se > 0):
        return float("nan")
    from scipy.special import expit

    q = float(t.ppf(1 - alpha, max(int(clusters) - 1, 1)))
    low, high = expit(log_odds - q * log_odds_se), expit(log_odds + q * log_odds_se)
    return float(max(0.5 - low, high - 0.5))


def verdict(equivalence_p: float, difference_p: float, alpha: float) -> Verdict:
    """Combine the (adjusted) TOST and difference p-values into a verdict; a NaN p-value is
    *not estimable*, never "not significant"."""
    if not (math.isfinite(equivalence_p) and math.isfinite(difference_p)):
        return NOT_ESTIMABLE
    if equivalence_p < alpha:
        return "equivalent"
    if difference_p < alpha:
        return "differs"
    return "inconclusive"
