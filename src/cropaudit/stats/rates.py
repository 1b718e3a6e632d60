"""Rates of a yes/no outcome per group, and the differences between groups.

The face measures (is the salient point on the face? does the crop keep the whole face? did
the detector find a face at all?) are shares of images or composite members per group. Each
share gets an interval (Wilson by default, ``stats.interval``); each pair of groups within the
same slice gets a two-proportion test (the score test of statsmodels'
``test_proportions_2indep``) and an interval for the difference (Newcombe's hybrid score
interval, ``confint_proportions_2indep(method="newcomb")``: closed form, defined at 0 % and
100 %), with p-values corrected (``stats.correction``) within each measure.

Rows are treated as independent. That holds for single images (each counted once); composite
members repeat images across tuples, so for them the intervals are too narrow in the same way
the stats stage's Wilson intervals are (its design effects say by how much).
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cropaudit.stats.params import Correction
from cropaudit.stats.proportions import adjust, interval

#: Methods of the two-proportion test and of the difference's interval (statsmodels names).
TWO_PROPORTION_METHOD = "score"
DIFFERENCE_INTERVAL = "newcomb"


@dataclass(frozen=True)
class TwoProportions:
    """Difference of two independent proportions: rate_a − rate_b, its interval and test."""

    diff: float
    diff_low: float
    diff_high: float
    statistic: float
    p_value: float


def two_proportions(count_a: int, n_a: int, count_b: int, n_b: int,
                    alpha: float = 0.05) -> TwoProportions:
    """Score test of p_a = p_b and Newcombe's hybrid score interval of p_a − p_b.

    Both groups at 0 % or both at 100 % give no evidence of a difference: statistic 0,
    p-value 1 (the score statistic is 0/0 there).
    """
    from statsmodels.stats.proportion import (
        confint_proportions_2indep,
        test_proportions_2indep,
    )

    if n_a <= 0 or n_b <= 0:
        return TwoProportions(*(float("nan"),) * 5)
    diff = count_a / n_a - count_b / n_b
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # ratio/odds of 0 % rates
        test = test_proportions_2indep(count_a, n_a, count_b, n_b,
                                       method=TWO_PROPORTION_METHOD, compare="diff")
        low, high = confint_proportions_2indep(count_a, n_a, count_b, n_b,
                                               method=DIFFERENCE_INTERVAL, compare="diff",
                                               alpha=alpha)
    p_value = float(test.pvalue)
    statistic = float(test.statistic)
    if count_a in (0, n_a) and count_b / n_b == count_a / n_a:
        statistic, p_value = 0.0, 1.0
    return TwoProportions(float(diff), float(low), float(high), statistic, p_value)


def rates_by(obs: pd.DataFrame, keys: Sequence[str], *, outcome: str = "outcome",
             alpha: float = 0.05, method: str = "wilson") -> pd.DataFrame:
    """Count, n, rate and interval of a boolean ``outcome`` per combination of ``keys``.

    Rows whose outcome is missing (NA: the question does not apply, e.g. no face) are left out
    of both count and n. Key columns may hold NaN (e.g. no aspect ratio) and are kept.
    """
    valid = obs[obs[outcome].notna()]
    grouped = valid.groupby(list(keys), dropna=False, sort=True)[outcome]
    out = pd.DataFrame({"count": grouped.sum().astype(int), "n": grouped.size().astype(int)})
    out = out.reset_index()
    if out.empty:
        return pd.DataFrame(columns=[*keys, "count", "n", "rate", "ci_method", "ci_low",
                                     "ci_high"])
    out["rate"] = out["count"] / out["n"]
    low, high = interval(out["count"].to_numpy(), out["n"].to_numpy(), alpha, method)
    out["ci_method"] = method
    out["ci_low"], out["ci_high"] = low, high
    return out


def pairwise_differences(rates: pd.DataFrame, within: Sequence[str], value: str, *,
                         family: Sequence[str] = (), alpha: float = 0.05,
                         correction: Correction = "holm",
                         order: dict[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Every pair of ``value``s inside each slice ``within``: difference, interval, test.

    ``order`` fixes which value is *a* (first) per slice key ``within[-1]`` (e.g. the
    configured group order); otherwise values are taken sorted. P-values are adjusted within
    each ``family`` (e.g. per measure); an empty family adjusts across all rows.
    """
    rows = []
    for key, part in rates.groupby(list(within), dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        values = part[value].astype(str).tolist()
        wanted = list((order or {}).get(str(key[-1]), []))
        ranked = sorted(values, key=lambda v: (wanted.index(v) if v in wanted else len(wanted),
                                               v))
        by_value = part.assign(_v=values).set_index("_v")
        for a, b in itertools.combinations(ranked, 2):
            ra, rb = by_value.loc[a], by_value.loc[b]
            t = two_proportions(int(ra["count"]), int(ra["n"]), int(rb["count"]), int(rb["n"]),
                                alpha)
            rows.append({
                **dict(zip(within, key, strict=True)),
                "value_a": a, "value_b": b,
                "count_a": int(ra["count"]), "n_a": int(ra["n"]), "rate_a": float(ra["rate"]),
                "count_b": int(rb["count"]), "n_b": int(rb["n"]), "rate_b": float(rb["rate"]),
                "diff": t.diff, "diff_low": t.diff_low, "diff_high": t.diff_high,
                "method": f"{TWO_PROPORTION_METHOD} test, {DIFFERENCE_INTERVAL} interval",
                "statistic": t.statistic, "p_value": t.p_value,
            })
    columns = [*within, "value_a", "value_b", "count_a", "n_a", "rate_a", "count_b", "n_b",
               "rate_b", "diff", "diff_low", "diff_high", "method", "statistic", "p_value",
               "correction", "p_value_adjusted", "significant"]
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=columns)
    out["correction"] = correction
    out["p_value_adjusted"] = np.nan
    fam = list(family)
    groups = [g.index for _, g in out.groupby(fam, dropna=False)] if fam else [out.index]
    for index in groups:
        out.loc[index, "p_value_adjusted"] = adjust(out.loc[index, "p_value"].tolist(),
                                                    correction)
    out["significant"] = out["p_value_adjusted"] < alpha
    return out[columns]
