"""Walking metrics.json: every quantity that treats tuples (or rows) as independent must say
so in its key (issue 24: naive numbers reached MLflow unlabelled)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

#: quantities that are naive by construction, whatever section they are in
NAIVE_NAMES = ("mcnemar", "mc_p_value", "mc_statistic", "chi2", "wald_low", "wald_high",
               "heterogeneity", "tost_p_value")
#: in comparisons / aggregates: names whose clustered version carries "clustered"
CLUSTERED_TWINS = ("p_value_adjusted", "min_detectable_delta", "p_value")


def leaf_paths(tree: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from leaf_paths(value, (*path, str(key)))
    else:
        yield path


def unlabelled_naive(metrics: dict[str, Any]) -> list[str]:
    """Dotted keys of naive quantities whose path does not say ``naive``."""
    bad = []
    for path in leaf_paths(metrics):
        dotted = ".".join(path)
        if "naive" in dotted or "clustered" in path[-1]:
            continue
        leaf = path[-1]
        in_comparisons = "comparisons" in path or "aggregates" in path
        if (any(name in leaf for name in NAIVE_NAMES)
                or (in_comparisons and leaf in CLUSTERED_TWINS)
                or "face_tests" in path):  # the two-proportion tests of composite members
            bad.append(dotted)
    return bad


def assert_naive_keys_are_labelled(metrics: dict[str, Any]) -> None:
    bad = unlabelled_naive(metrics)
    assert not bad, f"naive quantities without 'naive' in their key: {bad[:5]}"
