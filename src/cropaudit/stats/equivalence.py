"""Equivalence to parity: "no meaningful bias" has to be shown, not inferred from p > α.

A non-significant difference is not evidence of fairness; a small sample is non-significant
for any bias. TOST (two one-sided tests, statsmodels ``binom_tost``) shows that p lies inside
0.5 ± margin. Each comparison gets one of three verdicts:

* ``equivalent``: TOST rejects a difference of margin or more (whatever the point test says:
  a tiny but significant difference inside the tolerance is still practically parity);
* ``differs``: the test of p = 0.5 rejects, and equivalence is not shown;
* ``inconclusive``: neither; more pairs are needed (see the minimum detectable Δ).
"""

from __future__ import annotations

from typing import Literal

Verdict = Literal["equivalent", "differs", "inconclusive"]
VERDICTS: tuple[Verdict, ...] = ("equivalent", "differs", "inconclusive")


def tost_p_value(count: int, n: int, margin: float) -> float:
    """TOST p-value for 0.5 − margin < p < 0.5 + margin (exact binomial, statsmodels)."""
    from statsmodels.stats.proportion import binom_tost

    if n <= 0:
        return float("nan")
    return float(binom_tost(int(count), int(n), 0.5 - margin, 0.5 + margin)[0])


def verdict(equivalence_p: float, difference_p: float, alpha: float) -> Verdict:
    """Combine the (adjusted) TOST and difference p-values into a verdict."""
    if equivalence_p < alpha:
        return "equivalent"
    if difference_p < alpha:
        return "differs"
    return "inconclusive"
