"""The win rate of one comparison: counts, p, Δ, intervals and the test against parity.

p = P(the first listed group's image holds the salient point); Δ = p − 0.5 (the paper's
Δ₀.₅). The default interval is Wilson's, which keeps close to nominal coverage where the
paper's Wald p ± 2·SE does not (small n, p far from 0.5); both are reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

PARITY = 0.5
#: how each interval method is named in tables, figures and the report
INTERVAL_NAMES = {
    "wilson": "Wilson",
    "beta": "Clopper–Pearson",
    "agresti_coull": "Agresti–Coull",
    "jeffreys": "Jeffreys",
    "normal": "Wald",
}
CORRECTION_NAMES = {"holm": "Holm", "bh": "Benjamini–Hochberg"}


@dataclass(frozen=True)
class Proportion:
    """Win rate of the first group of one comparison, with its interval and test."""

    count: int
    n: int
    p: float
    delta: float
    se: float
    ci_method: str
    ci_low: float
    ci_high: float
    wald_low: float
    wald_high: float
    p_value: float

    @property
    def count_second(self) -> int:
        return self.n - self.count


def interval(count, n, alpha: float, method: str) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised statsmodels ``proportion_confint`` (``beta`` = Clopper–Pearson)."""
    from statsmodels.stats.proportion import proportion_confint

    low, high = proportion_confint(np.asarray(count), np.asarray(n), alpha=alpha, method=method)
    return np.asarray(low, dtype=float), np.asarray(high, dtype=float)


def wald_2se(count, n) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The paper's bars: p ± 2·SE with SE = sqrt(p(1−p)/n). Returns (se, low, high)."""
    p = np.asarray(count, dtype=float) / np.asarray(n, dtype=float)
    se = np.sqrt(p * (1 - p) / np.asarray(n, dtype=float))
    return se, p - 2 * se, p + 2 * se


def binomial_test(count: int, n: int) -> float:
    """Exact two-sided binomial test of p = 0.5 (scipy)."""
    from scipy.stats import binomtest

    return float(binomtest(int(count), int(n), PARITY).pvalue)


def proportion(count: int, n: int, alpha: float = 0.05, method: str = "wilson") -> Proportion:
    """Summarise ``count`` wins of the first group out of ``n`` tuples."""
    if n <= 0:
        raise ValueError("a comparison needs at least one tuple")
    if not 0 <= count <= n:
        raise ValueError(f"count {count} outside 0..{n}")
    low, high = interval(count, n, alpha, method)
    se, wlow, whigh = wald_2se(count, n)
    p = count / n
    return Proportion(
        count=int(count),
        n=int(n),
        p=p,
        delta=p - PARITY,
        se=float(se),
        ci_method=method,
        ci_low=float(low),
        ci_high=float(high),
        wald_low=float(wlow),
        wald_high=float(whigh),
        p_value=binomial_test(count, n),
    )


def adjust(p_values: Sequence[float], method: Literal["holm", "bh"]) -> np.ndarray:
    """Multiple-comparison adjusted p-values (statsmodels ``multipletests``); NaNs pass through."""
    from statsmodels.stats.multitest import multipletests

    pv = np.asarray(p_values, dtype=float)
    out = np.full_like(pv, np.nan)
    ok = ~np.isnan(pv)
    if ok.sum() == 1:  # a family of one needs no correction (and statsmodels' call is slow)
        out[ok] = pv[ok]
    elif ok.any():
        sm_method = {"holm": "holm", "bh": "fdr_bh"}[method]
        out[ok] = multipletests(pv[ok], method=sm_method)[1]
    return out
