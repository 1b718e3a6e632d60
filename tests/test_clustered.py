"""The one cluster-label builder and the covariance built on it (property-based).

``cluster_labels`` must put two observations in a common cluster exactly when their tuples
share an image, whatever column the image is in; ``shared_label_meat`` must equal the plain
sum of score products over every such pair of observations, by inclusion–exclusion for few
images per observation and pair by pair for many (FairFace's 14 groups at once).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from cropaudit.stats import clustered
from cropaudit.stats.clustered import (
    cluster_labels,
    covariance_problem,
    fewest_images,
    robust_logit,
    shared_label_cov,
    shared_label_meat,
)

#: tuples of image ids (some missing, some repeated within a row), ragged
ROWS = st.lists(st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "c_d", "_d_", "e", "f"])),
                         min_size=1, max_size=4), min_size=2, max_size=25)


def _share(r1, r2) -> bool:
    return bool({v for v in r1 if v is not None} & {v for v in r2 if v is not None})


@settings(deadline=None)
@given(ROWS)
def test_labels_are_shared_exactly_when_images_are(rows) -> None:
    labels = cluster_labels(rows)
    assert labels.shape[0] == len(rows)
    for i in range(len(rows)):
        for j in range(len(rows)):
            common = bool(set(labels[i]) & set(labels[j]))
            assert common == (i == j or _share(rows[i], rows[j]))


@settings(max_examples=60, deadline=None)
@given(ROWS, st.integers(0, 2**31 - 1))
def test_meat_is_the_sum_over_pairs_sharing_an_image(rows, seed) -> None:
    scores = np.random.default_rng(seed).normal(size=(len(rows), 2))
    labels = cluster_labels(rows)
    brute = sum(np.outer(scores[i], scores[j]) for i in range(len(rows))
                for j in range(len(rows)) if i == j or _share(rows[i], rows[j]))
    assert shared_label_meat(scores, labels) == pytest.approx(brute)


def test_many_images_per_observation_use_the_pairwise_sum(monkeypatch) -> None:
    rng = np.random.default_rng(1)
    rows = rng.integers(0, 40, (200, 5)).astype(str)
    scores = rng.normal(size=(200, 3))
    labels = cluster_labels(rows)
    exact = shared_label_meat(scores, labels)
    monkeypatch.setattr(clustered, "MAX_INCLUSION_EXCLUSION", 2)
    assert shared_label_meat(scores, labels) == pytest.approx(exact)


def test_both_columns_are_one_label_space() -> None:
    # image "x" first in one pair and second in another is one cluster
    labels = cluster_labels(np.array([["x", "y"], ["z", "x"], ["u", "v"]], dtype=object))
    assert set(labels[0]) & set(labels[1]) and not set(labels[0]) & set(labels[2])
    assert fewest_images(["x", "y", "z", "x"], ["a", "b", "a", "b"]) == 2


def test_a_variance_that_cannot_be_estimated_says_why() -> None:
    one = shared_label_cov(np.eye(1), np.ones((4, 1)), cluster_labels([["a"]] * 4), clusters=1)
    assert one.problem and np.isnan(one.cov).all()
    assert covariance_problem(np.array([[-1.0]])) and not covariance_problem(np.eye(2))
    constant = robust_logit(np.ones(10), np.column_stack([list("abcdeabcde"),
                                                          list("fghijfghij")]), clusters=5)
    assert constant.problem and np.isnan(constant.p_value) and constant.p == 1.0
