"""End to end: the real `snakemake --configfile config/quick.yaml`, as a user runs it.

One audit (FastGaze and the centre baseline on the reduced demo, the `quick_audit` session
fixture) is read by every test here: its outputs per cropper, the demo's known answers, the
report, the MLflow runs and MLflow's server listing them, and what a changed setting reruns.
FastGaze runs where its model file is (CI points CROPAUDIT_FASTGAZE at ../shared); without it
the known-answer tests skip with the reason.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import requests
import yaml

from cropaudit.contracts import (
    CROP_COLUMNS,
    CROP_FACE_COLUMNS,
    FACE_COLUMNS,
    IMAGE_CROP_COLUMNS,
    OUTCOME_COLUMNS,
    PAIRS_COLUMNS,
)
from cropaudit.engine.params import FASTGAZE_SHA256
from support.workflow import (
    REPO_ROOT,
    config_of,
    fastgaze_model,
    free_port,
    planned_jobs,
    snakemake,
    tool,
    tool_env,
)

pytestmark = pytest.mark.slow

PLANTED, NULL = "marked_a~plain_a", "plain_a~plain_b"
QUICK = REPO_ROOT / "config" / "quick.yaml"


@pytest.fixture(scope="module")
def audit(quick_audit):
    root, proc = quick_audit
    return root, proc, config_of(QUICK)


def needs_fastgaze(config: dict) -> None:
    if "fastgaze" not in config["croppers"] or fastgaze_model() is None:
        pytest.skip("the demo's known answers are FastGaze's; set CROPAUDIT_FASTGAZE")


def test_every_cropper_goes_through_the_same_chain(audit):
    root, _, config = audit
    pairs = pd.read_parquet(root / "results/pairs.parquet")
    assert set(PAIRS_COLUMNS) <= set(pairs.columns)
    images = config["dataset"]["demo"]["images_per_group"] * 4
    for cropper in config["croppers"]:
        folder = root / "results/croppers" / cropper
        outcomes = pd.read_parquet(folder / "saliency.parquet")
        assert set(PAIRS_COLUMNS + OUTCOME_COLUMNS) <= set(outcomes.columns)
        assert set(outcomes["tuple_id"]) == set(pairs["tuple_id"])  # the same tuples
        assert (outcomes.groupby("tuple_id")["won"].sum() == 1).all()
        assert (outcomes["model"] == cropper).all()
        assert set(CROP_COLUMNS + CROP_FACE_COLUMNS) <= set(
            pd.read_parquet(folder / "crops.parquet").columns)
        singles = pd.read_parquet(folder / "image-crops.parquet")
        assert set(IMAGE_CROP_COLUMNS) <= set(singles.columns)
        assert len(singles) == images * len(config["crops"]["aspect_ratios"])
        assert {"comparisons.csv", "disparities.csv", "face_rates.csv", "summary.md"} <= {
            p.name for p in (folder / "stats").iterdir()}
        assert list((folder / "figures").glob("*.png"))
        assert {"selection.csv", "rates.csv", "review.csv"} <= {
            p.name for p in (folder / "gaze").iterdir()}
        probes = pd.read_parquet(folder / "probes.parquet")
        kinds = [k for k in ("padding", "gap", "order", "layout", "scaling", "jpeg", "grid")
                 if config["probes"][k]]
        assert set(probes["probe"]) == {"baseline", *kinds}
        assert json.loads((folder / "metrics.json").read_text())["faces"]
        assert (root / f"logs/croppers/{cropper}/saliency-0.log").is_file()
        assert (root / f"logs/benchmarks/croppers/{cropper}/saliency-0.tsv").is_file()
    faces = pd.read_parquet(root / "data/demo/faces.parquet")
    assert set(FACE_COLUMNS) <= set(faces.columns) and faces["image_id"].nunique() == images
    # the demo's portraits carry a photographic face: the detector finds every one
    assert (faces.drop_duplicates("image_id")["n_faces"] == 1).all()


def test_the_headline_is_the_primary_croppers(audit):
    root, _, config = audit
    primary = config.get("primary") or config["croppers"][0]
    headline = (root / "results/metrics.json").read_bytes()
    assert headline == (root / f"results/croppers/{primary}/metrics.json").read_bytes()
    assert {p.name for p in (root / "results/figures").glob("*.png")} == {
        p.name for p in (root / f"results/croppers/{primary}/figures").glob("*.png")}
    comparison = json.loads((root / "results/comparison.json").read_text())
    assert set(comparison["croppers"]) == set(config["croppers"])
    assert set(json.loads((root / "results/probes.json").read_text())["probes"]) == set(
        config["croppers"])


def test_every_command_read_the_configuration_snakemake_was_given(audit):
    root, _, config = audit
    written = yaml.safe_load((root / "results/config.yaml").read_text())
    assert written == config
    assert config["report"]["title"] in (root / "results/report.html").read_text()
    assert pd.read_parquet(root / "results/pairs.parquet").groupby(
        "comparison")["base_id"].nunique().max() == config["sampling"]["n"]


def test_planted_difference_is_detected_and_null_is_not(audit):
    root, _, config = audit
    needs_fastgaze(config)
    table = pd.read_csv(root / "results/croppers/fastgaze/stats/comparisons.csv")
    table = table.set_index("comparison")
    # 12 images per group leave a pair comparison about 10 images to cluster on: too few for
    # its own verdict after Holm (the default audit, 40 per group, detects 3 of its 4); the
    # pooled comparison of the planted feature is detected, and the pair points its way
    assert table.loc[PLANTED, "delta"] > 0.2
    assert table.loc["feature:marked~plain", "verdict"] == "differs"
    assert table.loc[NULL, "verdict"] != "differs"
    assert table.loc["cohort:a~b", "verdict"] != "differs"


def test_planted_badge_takes_the_salient_point_off_the_face(audit):
    """Single images: plain portraits have one salient thing (the face); marked ones a badge
    that FastGaze prefers. Cohorts are drawn alike, so they must not differ."""
    root, _, config = audit
    needs_fastgaze(config)
    rates = pd.read_csv(root / "results/croppers/fastgaze/stats/face_rates.csv")
    single = rates[(rates["source"] == "single") & (rates["measure"] == "salient_in_face")]
    by_value = single.set_index(["level", "value"])["rate"]
    assert by_value[("feature", "plain")] > 0.8 > 0.2 > by_value[("feature", "marked")]
    selection = pd.read_csv(root / "results/croppers/fastgaze/gaze/selection.csv")
    chosen = selection[selection["selected"]]
    assert len(chosen) > 0 and set(chosen["feature"]) == {"marked"}


def test_report_is_self_contained_with_every_section(audit):
    root, _, config = audit
    html = (root / "results/report.html").read_text(encoding="utf-8")
    for remote in ('src="http', "<script src", '<link rel="stylesheet" href'):
        assert remote not in html
    for section in ("faces", "gaze", "croppers", "probes"):
        assert f'id="{section}"' in html, section
    assert "disparit" in html.lower()
    for cropper in config["croppers"]:
        assert cropper in html
    assert html.count('src="data:image/png;base64,') >= len(
        list((root / "results/figures").glob("*.png")))


def test_snakemake_then_has_nothing_to_do(audit):
    root, _, _ = audit
    proc = snakemake(root, "--dry-run", configs=(QUICK,))
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_a_changed_seed_reruns_from_the_tuples_not_the_dataset(audit):
    root, _, _ = audit
    cmd = [tool("snakemake"), "--snakefile", str(REPO_ROOT / "Snakefile"), "--configfile",
           str(REPO_ROOT / "params.yaml"), str(QUICK), "--config", "seed=7"]
    jobs = planned_jobs(root, *cmd[1:])
    assert "sample_pairs" in jobs and "pair_saliency" in jobs
    # the dataset, its faces and each image's own saliency do not depend on the seed
    assert not {"prepare_data", "faces", "image_saliency", "fetch_model"} & set(jobs)


def _runs(root: Path):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    experiment = client.get_experiment_by_name("cropaudit")
    return client, client.search_runs([experiment.experiment_id])


def test_mlflow_records_the_audit_and_one_child_run_per_cropper(audit):
    root, _, config = audit
    client, runs = _runs(root)
    record = json.loads((root / "results/mlflow-run.json").read_text())
    audit_run = next(r for r in runs if r.info.run_id == record["run_id"])
    assert audit_run.info.status == "FINISHED"
    params, metrics, tags = audit_run.data.params, audit_run.data.metrics, audit_run.data.tags
    assert params["sampling.n"] == str(config["sampling"]["n"])
    assert tags["primary"] == config["croppers"][0]
    assert any(PLANTED.replace("~", "-vs-") in k for k in metrics), sorted(metrics)[:10]
    model = tags["model.sha256"]
    assert model == (FASTGAZE_SHA256 if "fastgaze" in config["croppers"] else "none")
    names = {a.path for a in client.list_artifacts(record["run_id"])}
    assert {"figures", "tables", "report", "gaze"} <= names
    croppers = json.loads((root / "results/mlflow-croppers.json").read_text())
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId")
                == croppers["parent_run_id"]]
    assert sorted(r.data.tags["cropper"] for r in children) == sorted(
        config["croppers"])
    keys = [set(r.data.metrics) for r in children]
    assert all(k == keys[0] for k in keys)  # the same keys: MLflow's compare view lines them up


def test_mlflow_server_rest_api_lists_the_runs(audit):
    root, _, _ = audit
    _, runs = _runs(root)
    port = free_port()
    server_log = (root / "mlflow-server.log").open("w")
    server = subprocess.Popen(
        [tool("mlflow"), "server", "--backend-store-uri", f"sqlite:///{root / 'mlflow.db'}",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=root, env=tool_env(), stdout=server_log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: uvicorn workers stop with it
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if requests.get(f"{base}/health", timeout=2).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still starting (slow on a loaded machine)
            if server.poll() is not None or time.monotonic() > deadline:
                log = (root / "mlflow-server.log").read_text()[-2000:]
                pytest.fail(f"mlflow server did not start: {log}")
            time.sleep(0.5)
        exp = requests.get(f"{base}/api/2.0/mlflow/experiments/get-by-name",
                           params={"experiment_name": "cropaudit"}, timeout=10).json()
        found = requests.post(f"{base}/api/2.0/mlflow/runs/search", timeout=10, json={
            "experiment_ids": [exp["experiment"]["experiment_id"]]}).json()
        assert {r["info"]["run_id"] for r in found["runs"]} == {r.info.run_id for r in runs}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server_log.close()


def test_console_output_stays_short(audit):
    _, proc, _ = audit
    lines = (proc.stdout + proc.stderr).splitlines()
    assert len(lines) <= 200, len(lines)
    assert not [ln for ln in lines if re.search(r"src/cropaudit/\S+\.py", ln)]
