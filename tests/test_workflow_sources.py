"""Every documented dataset source through the whole workflow: folder and csv (generated
images), the FairFace and UTKFace presets (lookalike files) and wikiceleb (the local fake
Wikimedia). Each source runs once, alternately with `snakemake` and with `dvc repro` (dvc.yaml
regenerated for it, as a user would), and the other tool must then find nothing to do. The demo
source runs through both tools in test_workflow_dvc.py and test_workflow_snakemake.py."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest

from support.sources import SOURCES, source_params
from support.wikimedia import FakeWikimedia
from support.workflow import (
    BASELINE_PROBES_ONLY,
    copy_workflow,
    deep_merge,
    dvc_changed,
    dvc_project,
    run,
    snakemake_plan,
    tool,
)

pytestmark = pytest.mark.slow

PER_GROUP = 3
#: Small and quick: the model and the probes do not matter here, the dataset does.
TINY = {"model": {"backend": "center"}, "sampling": {"n": 4}, "saliency": {"shards": 1},
        "gaze": {"review_per_value": 1}, "stats": {"bootstrap_resamples": 0},
        **BASELINE_PROBES_ONLY}
#: Which tool builds each source (the other one checks it has nothing left to do).
RUNNER = {"folder": "snakemake", "csv": "dvc", "fairface": "snakemake", "utkface": "dvc",
          "wikiceleb": "snakemake"}


@pytest.mark.parametrize("kind", SOURCES)
def test_source_runs_end_to_end_and_both_tools_agree(
    kind: str, tmp_path: Path, fake_wikimedia: FakeWikimedia
) -> None:
    overrides = source_params(kind, tmp_path / "collection", PER_GROUP, fake=fake_wikimedia)
    root = dvc_project(copy_workflow(tmp_path / "audit", deep_merge(TINY, overrides)))
    started = time.monotonic()
    if RUNNER[kind] == "snakemake":
        run([tool("snakemake"), "--cores", "2"], cwd=root)
        assert dvc_changed(root) == set()
    else:
        run([tool("dvc"), "repro"], cwd=root)
        assert snakemake_plan(root) == set()
    print(f"{kind} via {RUNNER[kind]}: {time.monotonic() - started:.1f} s")

    name = "wikiceleb" if kind == "wikiceleb" else kind
    table = pd.read_parquet(root / f"data/{name}/images.parquet")
    assert sorted(table["group"].unique()) == [
        "black_female", "black_male", "white_female", "white_male"]
    assert len(table) == 4 * PER_GROUP
    metrics = json.loads((root / "results/metrics.json").read_text())
    assert metrics["faces"]["images"] == 4 * PER_GROUP
    assert (root / "results/report.html").stat().st_size > 10_000
    assert json.loads((root / "results/mlflow-run.json").read_text())["run_id"]
