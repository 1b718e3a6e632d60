"""Result objects: every test of an audit, named, with its method, and the tidy table they make.

The numbers are read from the wide tables' rows, so each check here compares a result with
the columns it must come from; a result reading the wrong column fails.
"""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from cropaudit.stats.audit import AuditResult, audit
from cropaudit.stats.params import StatsParams
from cropaudit.stats.results import (
    TIDY_COLUMNS,
    ClusteredTest,
    EquivalenceTest,
    NaiveTest,
    PositionTest,
    TogetherTest,
)
from simulate import simulate_outcomes, simulated_groups


@pytest.fixture(scope="module")
def result() -> AuditResult:
    outcomes = simulate_outcomes(11, strength={"white_female": 0.4}, bases_per_comparison=40,
                                 together_tuples=40)
    return audit(outcomes, StatsParams(bootstrap_resamples=0), simulated_groups(), seed=1)


def _of(result: AuditResult, kind: type) -> list:
    return [t for t in result.tests() if type(t) is kind]


def test_each_comparison_has_its_naive_clustered_and_equivalence_test(result):
    c = result.comparisons.set_index("comparison")
    for kind in (NaiveTest, ClusteredTest, EquivalenceTest):
        assert sorted(t.comparison for t in _of(result, kind)) == sorted(c.index)
    for t in _of(result, NaiveTest):
        row = c.loc[t.comparison]
        assert (t.estimate, t.low, t.high, t.p) == (
            row["p"], row["naive_low"], row["naive_high"], row["naive_p_value"])
        assert row["naive_method"] in t.method
    for t in _of(result, ClusteredTest):
        row = c.loc[t.comparison]
        assert (t.estimate, t.low, t.high, t.p, t.method) == (
            row["p"], row["ci_low"], row["ci_high"], row["p_value_clustered"], row["ci_method"])
    for t in _of(result, EquivalenceTest):
        row = c.loc[t.comparison]
        margin = row["equivalence_margin"]
        assert (t.quantity, t.estimate, t.low, t.high, t.p) == (
            "delta", row["delta"], -margin, margin, row["tost_p_value_clustered"])


def test_position_and_together_tests_come_from_their_tables(result):
    position = _of(result, PositionTest)
    mcnemar = [t for t in position if t.quantity == "p_left"]
    assert len(mcnemar) == len(result.position)
    assert [t.p for t in mcnemar] == result.position["naive_mcnemar_p_value"].tolist()
    terms = [t for t in position if t.quantity != "p_left"]
    assert [t.quantity for t in terms] == result.position_model["term"].tolist()
    together = _of(result, TogetherTest)
    comparisons = result.together["comparison"].unique()
    assert len(comparisons) and len(together) == 2 * len(comparisons)
    headline = pd.Series({t.comparison: t.p for t in together if "Hotelling" in t.method})
    firsts = result.together.groupby("comparison")["group_p_value"].first()
    pd.testing.assert_series_equal(headline.sort_index(), firsts.sort_index(),
                                   check_names=False)


def test_results_are_frozen(result):
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.tests()[0].p = 0.0  # type: ignore[misc]


def test_the_tidy_table_stacks_every_result(result):
    tidy = result.tidy()
    tests = result.tests()
    assert tuple(tidy.columns) == TIDY_COLUMNS
    assert len(tidy) == len(tests)
    assert tidy.iloc[0].tolist() == list(dataclasses.astuple(tests[0]))
    assert tidy["method"].str.len().min() > 0


def test_an_audit_without_together_or_position_tables_has_an_empty_part():
    empty = AuditResult(params=StatsParams(), seed=0, comparisons=pd.DataFrame())
    assert empty.tests() == []
    assert tuple(empty.tidy().columns) == TIDY_COLUMNS
