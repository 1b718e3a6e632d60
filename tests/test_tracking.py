"""Tracking store choice and what is sent to MLflow (keys, values)."""

from __future__ import annotations

from cropaudit.tracking import (
    DEFAULT_TRACKING_URI,
    TrackingParams,
    flat_metrics,
    flat_params,
    metric_key,
    tracking_uri,
)


def test_tracking_uri_precedence(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    assert tracking_uri(TrackingParams()) == DEFAULT_TRACKING_URI == "sqlite:///mlflow.db"
    assert tracking_uri(TrackingParams(uri="http://team:5000")) == "http://team:5000"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:////srv/runs.db")
    assert tracking_uri(TrackingParams(uri="http://team:5000")) == "sqlite:////srv/runs.db"


def test_metrics_are_flattened_to_valid_keys_and_finite_numbers():
    metrics = {
        "comparisons": {"marked_a~plain_a": {"p": 0.78, "significant": True, "ci": None,
                                             "verdict": "differs"}},
        "together": {"a~b~c": {"share_a": float("nan")}},
        "pair_tuples": 1200,
    }
    assert flat_metrics(metrics) == {
        "comparisons.marked_a-vs-plain_a.p": 0.78,
        "comparisons.marked_a-vs-plain_a.significant": 1.0,
        "pair_tuples": 1200.0,
    }
    assert metric_key("cohort:a~b[paper-compatible]") == "cohort:a-vs-b_paper-compatible_"


def test_params_are_flattened_with_json_values():
    flat = flat_params({"seed": 1, "sampling": {"n": 5, "pairs": ["a~b"], "groups": []},
                        "tracking": {"uri": None}})
    assert flat == {"seed": "1", "sampling.n": "5", "sampling.pairs": '["a~b"]',
                    "sampling.groups": "[]", "tracking.uri": "null"}
