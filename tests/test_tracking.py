"""Tracking store choice and what is sent to MLflow (keys, values)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from cropaudit.reporting.tracking import (
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


def test_undefined_metrics_can_be_kept_as_nan_so_cropper_runs_share_their_keys():
    """A cropper whose outcomes leave a test undefined (null, NaN) still logs that key."""
    import math

    defined = {"together": {"a~b~c": {"group_p_value": 0.2, "verdict": "differs"}}}
    undefined = {"together": {"a~b~c": {"group_p_value": None, "verdict": "differs"}}}
    assert flat_metrics(undefined) == {}
    kept = flat_metrics(undefined, undefined_as_nan=True)
    assert set(kept) == set(flat_metrics(defined)) == {"together.a-vs-b-vs-c.group_p_value"}
    assert math.isnan(kept["together.a-vs-b-vs-c.group_p_value"])
    assert math.isnan(flat_metrics({"x": float("inf")}, undefined_as_nan=True)["x"])


def test_runs_of_one_schema_are_aligned_on_the_union_of_their_keys():
    import math

    from cropaudit.reporting.tracking import aligned_metrics

    aligned = aligned_metrics({
        "smartcrop": {"faces": {"joint_p_value": 0.3}, "n": 4},
        "center": {"n": 4, "together": {"p": None}},  # a test its outcomes left out
    })
    assert set(aligned["center"]) == set(aligned["smartcrop"]) == {
        "faces.joint_p_value", "n", "together.p"}
    assert math.isnan(aligned["center"]["faces.joint_p_value"])
    assert math.isnan(aligned["smartcrop"]["together.p"])
    assert aligned["center"]["n"] == aligned["smartcrop"]["n"] == 4.0


def test_params_are_flattened_with_json_values():
    flat = flat_params({"seed": 1, "sampling": {"n": 5, "pairs": ["a~b"], "groups": []},
                        "tracking": {"uri": None}})
    assert flat == {"seed": "1", "sampling.n": "5", "sampling.pairs": '["a~b"]',
                    "sampling.groups": "[]", "tracking.uri": "null"}


def test_several_metrics_files_are_merged_and_clashes_refused(tmp_path):
    import json

    import pytest

    from cropaudit.errors import InputFileError
    from cropaudit.reporting.tracking import read_metrics

    stats, gaze = tmp_path / "metrics.json", tmp_path / "gaze-metrics.json"
    stats.write_text(json.dumps({"pair_tuples": 10, "faces": {"detection_rate": 0.9}}))
    gaze.write_text(json.dumps({"gaze": {"selected": 4}}))
    merged = read_metrics([stats, gaze])
    assert flat_metrics(merged) == {"pair_tuples": 10.0, "faces.detection_rate": 0.9,
                                    "gaze.selected": 4.0}
    gaze.write_text(json.dumps({"faces": {"x": 1}}))
    with pytest.raises(InputFileError, match="'faces' is also in another metrics file"):
        read_metrics([stats, gaze])
    with pytest.raises(InputFileError, match="metrics file not found"):
        read_metrics([tmp_path / "missing.json"])


@settings(max_examples=300, derandomize=True, deadline=None)
@given(name=st.text(min_size=1, max_size=300))
def test_every_name_from_data_makes_a_key_mlflow_accepts(name):
    """Group names reach metric keys; MLflow's own validators must accept what we make of
    any of them (a group named after a URL once made 'https://…', which MLflow refused, and
    FairFace's interaction keys passed its 250 characters)."""
    from mlflow.utils.validation import _validate_metric_name, _validate_param_name

    for key in (metric_key(name), metric_key(f"comparisons.{name}~plain.clusters")):
        _validate_metric_name(key)
        _validate_param_name(key)
        assert len(key) <= 250


def test_long_keys_stay_distinct():
    a, b = "interactions." + "x" * 300 + ".a", "interactions." + "x" * 300 + ".b"
    assert metric_key(a) != metric_key(b) and len(metric_key(a)) == 250
    assert metric_key(a).startswith("interactions.xxx")


@pytest.mark.parametrize("name", ["https://example.org/x.png", "a/./b", "a/../b", "/a", "a/",
                                  "a//b", "."])
def test_path_like_names_make_valid_keys(name):
    from mlflow.utils.validation import _validate_metric_name

    _validate_metric_name(metric_key(name))
