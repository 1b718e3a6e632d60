"""Each test of an audit as a result object, and the tidy long-format table they make.

The stats stage's wide tables (``comparisons.csv`` and friends) keep every number of a row
side by side, which is what spreadsheets and ``cropaudit check`` read. This module gives the
same numbers one shape per test, as statsmodels' ``HolderTuple`` does: the estimate, its
interval, the p-value and the method that produced them, named, so a reader never has to
know which of 64 columns belong together. :func:`tidy_table` stacks them into one long table
(``tidy.csv``: setting, comparison, quantity, method, estimate, low, high, p), one row per
test and quantity; a number absent from a test (no interval for McNemar) is NaN.

Nothing is recomputed here: every field is read from the row of the wide table that holds it,
so the two views cannot disagree.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import astuple, dataclass, fields
from typing import TYPE_CHECKING

import pandas as pd

from cropaudit.stats.position import GROUPS_JOINT

if TYPE_CHECKING:
    from cropaudit.stats.audit import AuditResult

NAN = float("nan")


@dataclass(frozen=True)
class TestResult:
    """One test of one comparison: ``estimate`` of ``quantity`` with its interval
    [``low``, ``high``] and ``p``-value, as ``method`` computed them."""

    __test__ = False  # a result, not a pytest test class

    setting: str
    comparison: str
    quantity: str
    method: str
    estimate: float
    low: float = NAN
    high: float = NAN
    p: float = NAN


@dataclass(frozen=True)
class NaiveTest(TestResult):
    """p with the interval and exact binomial test that treat every tuple as independent
    (too narrow when images repeat; shown for comparison only)."""


@dataclass(frozen=True)
class ClusteredTest(TestResult):
    """p with the interval and parity test of the logit clustered on both images of every
    tuple: the numbers the verdict uses."""


@dataclass(frozen=True)
class EquivalenceTest(TestResult):
    """Δ tested for equivalence (TOST on the clustered fit); ``low``/``high`` are the
    equivalence margins, not an interval of Δ."""


@dataclass(frozen=True)
class PositionTest(TestResult):
    """Left/right preference: McNemar on mirrored tuples (naive), or a term of the position
    logit clustered on both images of every tuple (log-odds)."""


@dataclass(frozen=True)
class TogetherTest(TestResult):
    """k-way tuples: the clustered Wald test of group effects with position in the model
    (headline), or the Monte Carlo test that treats tuples as independent (naive)."""


#: Methods of the position logit's rows: a term's Wald t test, the groups' joint F test.
LOGIT_METHOD = "clustered logit (CR3, t on G−1 df)"
JOINT_METHOD = "clustered logit (CR3), joint Wald, Hotelling F"

#: Columns of the tidy table, in order.
TIDY_COLUMNS = tuple(f.name for f in fields(TestResult))


def naive_tests(comparisons: pd.DataFrame) -> Iterator[NaiveTest]:
    """Per comparison: p, its naive interval and the exact binomial test against 0.5."""
    for r in comparisons.itertuples():
        yield NaiveTest(r.setting, r.comparison, "p", f"naive {r.naive_method}, exact binomial",
                        r.p, r.naive_low, r.naive_high, r.naive_p_value)


def clustered_tests(comparisons: pd.DataFrame) -> Iterator[ClusteredTest]:
    """Per comparison: p, the clustered interval and the clustered test of parity."""
    for r in comparisons.itertuples():
        yield ClusteredTest(r.setting, r.comparison, "p", str(r.ci_method), r.p, r.ci_low,
                            r.ci_high, r.p_value_clustered)


def equivalence_tests(comparisons: pd.DataFrame) -> Iterator[EquivalenceTest]:
    """Per comparison: Δ against ± the equivalence margin (clustered TOST)."""
    for r in comparisons.itertuples():
        margin = r.equivalence_margin
        yield EquivalenceTest(r.setting, r.comparison, "delta", f"TOST, {r.ci_method}",
                              r.delta, -margin, margin, r.tost_p_value_clustered)


def position_tests(position: pd.DataFrame, model: pd.DataFrame) -> Iterator[PositionTest]:
    """McNemar per comparison (and ``all``), then the position logit's terms per setting."""
    for r in position.itertuples():
        yield PositionTest(r.setting, r.comparison, "p_left", "naive McNemar, mirrored tuples",
                           r.p_left, NAN, NAN, r.naive_mcnemar_p_value)
    for r in model.itertuples():
        method = JOINT_METHOD if r.term == GROUPS_JOINT else LOGIT_METHOD
        yield PositionTest(r.setting, "all", str(r.term), method, r.coef, r.low, r.high,
                           r.p_value)


def together_tests(together: pd.DataFrame) -> Iterator[TogetherTest]:
    """Per k-way comparison: the headline group test and the naive Monte Carlo test (their
    statistics as estimates)."""
    if together.empty:
        return
    for (setting, comparison), d in together.groupby(["setting", "comparison"], sort=False):
        first = d.iloc[0]
        yield TogetherTest(setting, comparison, "groups",
                           "clustered Wald with position, Hotelling F", first["group_wald"],
                           NAN, NAN, first["group_p_value"])
        yield TogetherTest(setting, comparison, "groups", "naive Monte Carlo, position fixed",
                           first["naive_mc_statistic"], NAN, NAN, first["naive_mc_p_value"])


def results_of(result: AuditResult) -> list[TestResult]:
    """Every test of an audit, in a fixed order: naive, clustered, equivalence, position,
    together."""
    c = result.comparisons
    return [*naive_tests(c), *clustered_tests(c), *equivalence_tests(c),
            *position_tests(result.position, result.position_model),
            *together_tests(result.together)]


def tidy_table(results: list[TestResult]) -> pd.DataFrame:
    """The results stacked long: one row per test and quantity (``tidy.csv``)."""
    return pd.DataFrame([astuple(r) for r in results], columns=list(TIDY_COLUMNS))
