"""compare-croppers, the report's croppers section and log-croppers' MLflow runs, on simulated
outcomes of two croppers that saw the same tuples (one fair, one favouring a group)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from cropaudit.cli import main
from cropaudit.untrusted import markdown
from simulate import GROUPS, simulate_outcomes

FAVOURED = "white_female"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("compare")
    params = root / "params.yaml"
    params.write_text(yaml.safe_dump({
        "dataset": {"groups": {"attributes": ["race", "gender"]}},
        "stats": {"bootstrap_resamples": 300, "aggregates": []},
        "tracking": {"uri": f"sqlite:///{root / 'mlflow.db'}", "experiment": "t"},
    }))
    outcomes = {}
    for name, strength in (("fair", {}), ("biased", {FAVOURED: 1.5})):
        path = root / f"{name}.parquet"
        # the same seed draws the same tuples: only who holds the point differs
        simulate_outcomes(3, strength=strength, bases_per_comparison=150, together_tuples=40,
                          model=name).to_parquet(path)
        outcomes[name] = path
        folder = root / name
        assert main(["stats", "--params", str(params), "--outcomes", str(path),
                     "--out-dir", str(folder / "stats"),
                     "--metrics", str(folder / "metrics.json")]) == 0
    argv = ["compare-croppers", "--params", str(params), "--out-dir", str(root / "cmp"),
            "--metrics", str(root / "cmp.json"),
            "--outcomes", *(f"{n}={p}" for n, p in outcomes.items())]
    assert main(argv) == 0
    return root, params


def test_comparison_finds_where_the_croppers_disagree(runs):
    root, _ = runs
    agreement = pd.read_csv(root / "cmp/agreement.csv")
    assert len(agreement) == len(GROUPS) * (len(GROUPS) - 1) // 2
    involved = agreement["comparison"].str.contains(FAVOURED)
    assert agreement.loc[involved, "disagree"].all()
    assert agreement.loc[involved, "agreement"].max() < agreement.loc[~involved,
                                                                      "agreement"].min()
    deltas = pd.read_csv(root / "cmp/deltas.csv")
    assert set(deltas["cropper"]) == {"fair", "biased"}
    summary = (root / "cmp/summary.md").read_text()
    assert markdown(f"fair vs biased on black_female~{FAVOURED}") in summary  # names escaped
    metrics = json.loads((root / "cmp.json").read_text())
    assert metrics["disagreements"] == int(agreement["disagree"].sum()) >= 3
    assert (root / "cmp/forest.png").stat().st_size > 1000


def test_report_has_the_croppers_section(runs, tmp_path):
    root, params = runs
    (tmp_path / "figures").mkdir()
    out = tmp_path / "report.html"
    assert main(["report", "--params", str(params), "--stats-dir", str(root / "fair/stats"),
                 "--figures-dir", str(tmp_path / "figures"), "--croppers-dir",
                 str(root / "cmp"), "--out", str(out)]) == 0
    html = out.read_text()
    assert 'id="croppers"' in html and f"fair vs biased on black_female~{FAVOURED}" in html
    assert "data:image/png;base64" in html  # the forest plot is embedded


def test_mlflow_parent_run_holds_the_comparison_children_the_croppers(runs):
    from mlflow.tracking import MlflowClient

    root, params = runs
    out = root / "runs.json"
    assert main(["log-croppers", "--params", str(params), "--comparison-dir", str(root / "cmp"),
                 "--comparison-metrics", str(root / "cmp.json"), "--cropper-dir",
                 f"fair={root / 'fair'}", f"biased={root / 'biased'}", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    parent = client.get_run(record["parent_run_id"])
    assert parent.data.metrics["disagreements"] >= 3
    artifacts = {a.path for a in client.list_artifacts(parent.info.run_id, "comparison")}
    assert "comparison/agreement.csv" in artifacts
    children = [client.get_run(i) for i in record["children"].values()]
    assert [c.data.tags["mlflow.parentRunId"] for c in children] == [parent.info.run_id] * 2
    assert sorted(c.data.params["cropper"] for c in children) == ["biased", "fair"]
    keys = [set(c.data.metrics) for c in children]
    assert keys[0] == keys[1] and len(keys[0]) > 10
