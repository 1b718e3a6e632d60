"""End to end: the real `snakemake` on a temporary copy, the demo dataset's known answers,
the MLflow runs it records, and MLflow's server listing them.

Runs with FastGaze when the model file is available (CI points CROPAUDIT_FASTGAZE at
../shared), else with the center baseline; the known-answer test needs FastGaze.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import requests

from cropaudit.contracts import (
    CROP_COLUMNS,
    CROP_FACE_COLUMNS,
    FACE_COLUMNS,
    IMAGE_CROP_COLUMNS,
    OUTCOME_COLUMNS,
    PAIRS_COLUMNS,
)
from cropaudit.reporting.report import SAMPLE_SHEETS
from cropaudit.saliency.params import FASTGAZE_SHA256
from support.workflow import (
    copy_workflow,
    fastgaze_model,
    free_port,
    run,
    tool,
    tool_env,
    write_params,
)

pytestmark = pytest.mark.slow

PLANTED, NULL = "marked_a~plain_a", "plain_a~plain_b"
MODEL = fastgaze_model()
BACKEND = "fastgaze" if MODEL else "center"


def tiny(seed: int = 20210517) -> dict:
    return {
        "seed": seed,
        "model": {"backend": BACKEND},
        "croppers": [BACKEND],  # several croppers: tests/test_workflow_croppers.py
        "sampling": {"n": 24, "pairs": [PLANTED, NULL], "together": True},
        "saliency": {"shards": 2},
        "gaze": {"review_per_value": 3},  # a few sheets: drawing them is the gaze stage's cost
        "report": {"title": "tiny end-to-end run"},
        "probes": {"tuples_per_comparison": 2, "edits": {"images_per_group": 1}},
    }


def snakemake(root: Path) -> subprocess.CompletedProcess[str]:
    env = {"CROPAUDIT_FASTGAZE": str(MODEL)} if MODEL else {}
    return run([tool("snakemake"), "--cores", "2"], cwd=root, **env)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    root = copy_workflow(tmp_path_factory.mktemp("workflow") / "audit", tiny())
    started = time.monotonic()
    proc = snakemake(root)
    print(f"snakemake --cores 2 ({BACKEND}): {time.monotonic() - started:.1f} s")
    record = json.loads((root / "results/mlflow-run.json").read_text())
    return root, proc, record


@pytest.fixture(scope="module")
def second_run(first_run):
    """The same workflow again after changing only the seed."""
    root, _, first = first_run
    dataset_mtime = (root / "data/demo/images.parquet").stat().st_mtime_ns
    write_params(root, tiny(seed=7))
    proc = snakemake(root)
    second = json.loads((root / "results/mlflow-run.json").read_text())
    return root, proc, first, second, dataset_mtime


def test_every_output_is_written(first_run):
    root, proc, _ = first_run
    assert "cropaudit: auditing dataset 'demo'" in proc.stdout + proc.stderr
    pairs = pd.read_parquet(root / "results/pairs.parquet")
    outcomes = pd.read_parquet(root / "results/saliency.parquet")
    crops = pd.read_parquet(root / "results/crops.parquet")
    assert set(PAIRS_COLUMNS) <= set(pairs.columns)
    assert set(PAIRS_COLUMNS + OUTCOME_COLUMNS) <= set(outcomes.columns)
    assert set(CROP_COLUMNS) <= set(crops.columns)
    # 2 pairs in both orders, and the 4 groups together in 4 cyclic arrangements, n = 24 each
    assert outcomes["tuple_id"].nunique() == pairs["tuple_id"].nunique() == (2 * 2 + 4) * 24
    assert (outcomes.groupby("tuple_id")["won"].sum() == 1).all()
    assert (outcomes["model"] == BACKEND).all()
    for shard in (0, 1):
        assert (root / f"results/saliency/shard-{shard}.parquet").is_file()
        assert (root / f"logs/saliency/shard-{shard}.log").is_file()
        assert (root / f"logs/benchmarks/saliency/shard-{shard}.tsv").is_file()
    stats = root / "results/stats"
    assert {"comparisons.csv", "summary.md"} <= {p.name for p in stats.iterdir()}
    assert list((root / "results/figures").glob("*.png"))
    metrics = json.loads((root / "results/metrics.json").read_text())
    assert metrics
    assert (root / "results/report.html").stat().st_size > 10_000
    assert (root / "data/demo/images.parquet").is_file()
    assert len(list((root / "data/demo/images").glob("*.jpg"))) == 160
    if MODEL:
        assert (root / "models/fastgaze.vxm").is_file()


def test_face_and_gaze_outputs_are_written(first_run):
    root, _, _ = first_run
    faces = pd.read_parquet(root / "data/demo/faces.parquet")
    assert set(FACE_COLUMNS) <= set(faces.columns)
    assert faces["image_id"].nunique() == 160
    # the demo's portraits carry a photographic face: the detector finds every one
    assert (faces.drop_duplicates("image_id")["n_faces"] == 1).all()
    crops = pd.read_parquet(root / "results/crops.parquet")
    assert set(CROP_FACE_COLUMNS) <= set(crops.columns) and crops["has_face"].all()
    # only the member holding the salient point can have it on its face
    assert not (crops["salient_in_face"].astype(bool) & ~crops["won"]).any()
    singles = pd.read_parquet(root / "results/image-crops.parquet")
    assert set(IMAGE_CROP_COLUMNS) <= set(singles.columns) and len(singles) == 160 * 4
    assert len(pd.read_parquet(root / "results/image-saliency.parquet")) == 160
    assert {"face_rates.csv", "face_comparisons.csv"} <= {
        p.name for p in (root / "results/stats").iterdir()}
    gaze = root / "results/gaze"
    assert {"selection.csv", "labels.csv", "rates.csv", "comparisons.csv", "review.csv"} <= {
        p.name for p in gaze.iterdir()}
    review = pd.read_csv(gaze / "review.csv")
    assert len(review) == len(list((gaze / "sheets").glob("*.png"))) > 0
    metrics = json.loads((root / "results/metrics.json").read_text())
    assert metrics["faces"]["detection_rate"] == 1.0
    gaze_metrics = json.loads((root / "results/gaze-metrics.json").read_text())["gaze"]
    assert gaze_metrics["images"] == 160 and gaze_metrics["review_sheets"] == len(review)


def test_planted_badge_takes_the_salient_point_off_the_face(first_run):
    """Single images: plain portraits have one salient thing (the face); marked ones a badge
    that FastGaze prefers. Cohorts are drawn alike, so they must not differ."""
    if BACKEND != "fastgaze":
        pytest.skip("the demo's known answers are FastGaze's; set CROPAUDIT_FASTGAZE")
    root, _, _ = first_run
    rates = pd.read_csv(root / "results/stats/face_rates.csv")
    single = rates[(rates["source"] == "single") & (rates["measure"] == "salient_in_face")]
    by_value = single.set_index(["level", "value"])["rate"]
    assert by_value[("feature", "plain")] > 0.9 > 0.1 > by_value[("feature", "marked")]
    tests = pd.read_csv(root / "results/stats/face_comparisons.csv")
    tests = tests[(tests["source"] == "single") & (tests["measure"] == "salient_in_face")]
    tests = tests.set_index("level")
    assert tests.loc["feature", "significant"] and not tests.loc["cohort", "significant"]
    # the paper's selection (>= 2 salient regions) keeps only the marked portraits
    selection = pd.read_csv(root / "results/gaze/selection.csv")
    chosen = selection[selection["selected"]]
    assert len(chosen) > 0 and set(chosen["feature"]) == {"marked"}
    assert (selection.loc[selection["feature"] == "plain", "n_large_regions"] <= 1).all()


def test_planted_difference_is_detected_and_null_is_not(first_run):
    if BACKEND != "fastgaze":
        pytest.skip("the demo's known answers are FastGaze's; set CROPAUDIT_FASTGAZE")
    root, _, _ = first_run
    table = pd.read_csv(root / "results/stats/comparisons.csv")
    table = table[table["kind"] == "pair"].set_index("comparison")
    planted, null = table.loc[PLANTED], table.loc[NULL]
    # p = share of composites whose salient point fell on the first group's member
    assert planted["p"] > 0.5 and planted["ci_low"] > 0.5, planted.to_dict()
    assert null["ci_low"] <= 0.5 <= null["ci_high"], null.to_dict()


def test_report_is_self_contained(first_run):
    root, _, _ = first_run
    html = (root / "results/report.html").read_text(encoding="utf-8")
    assert "tiny end-to-end run" in html
    sheets = len(list((root / "results/gaze/sheets").glob("*.png")))
    assert html.count('src="data:image/png;base64,') == len(
        list((root / "results/figures").glob("*.png"))) + min(SAMPLE_SHEETS, sheets) + len(
        list((root / "results/croppers/comparison").glob("*.png"))) + len(  # croppers section
        list((root / "results/probes/summary").glob("*.png")))  # probes section
    for remote in ('src="http', "<script src", '<link rel="stylesheet" href'):
        assert remote not in html
    dataset_sha = hashlib.sha256(
        (root / "data/demo/images.parquet").read_bytes()).hexdigest()
    assert dataset_sha in html  # provenance
    assert PLANTED in html and "seed: 20210517" in html  # tables and params
    assert 'id="faces"' in html and 'id="gaze"' in html


def test_snakemake_then_has_nothing_to_do(first_run):
    root, _, _ = first_run
    proc = run([tool("snakemake"), "--cores", "2", "--dry-run"], cwd=root)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def _runs(root: Path):
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
    runs = mlflow.search_runs(experiment_names=["cropaudit"], output_format="list")
    # the cropper comparison's parent and child runs (log-croppers) are tested elsewhere
    return [r for r in runs if "cropaudit.run" not in r.data.tags]


def test_mlflow_run_has_params_metrics_tags_and_artifacts(first_run):
    from mlflow.tracking import MlflowClient

    root, _, record = first_run
    runs = {r.info.run_id: r for r in _runs(root)}
    run_ = runs[record["run_id"]]
    assert run_.info.status == "FINISHED"
    params, metrics, tags = run_.data.params, run_.data.metrics, run_.data.tags
    assert params["seed"] == "20210517" and params["sampling.n"] == "24"
    assert params["model.backend"] == BACKEND
    planted_key = PLANTED.replace("~", "-vs-")
    assert any(planted_key in k for k in metrics), sorted(metrics)[:10]
    assert tags["git.dirty"] in {"true", "false", "unknown"} and "git.commit" in tags
    assert tags["model.sha256"] == (FASTGAZE_SHA256 if MODEL else "none")
    assert tags["dataset.digest"] and tags["versions.mlflow"]
    inputs = run_.inputs.dataset_inputs
    assert inputs and inputs[0].dataset.digest == tags["dataset.digest"]
    client = MlflowClient(f"sqlite:///{root / 'mlflow.db'}")
    names = {a.path for a in client.list_artifacts(run_.info.run_id)}
    assert {"figures", "tables", "report", "config", "metrics", "environment"} <= names
    tables = {a.path for a in client.list_artifacts(run_.info.run_id, "tables")}
    assert {"tables/comparisons.csv", "tables/face_rates.csv"} <= tables
    assert "gaze" in names
    gaze = {a.path for a in client.list_artifacts(run_.info.run_id, "gaze")}
    assert {"gaze/review.csv", "gaze/labels.csv"} <= gaze
    assert metrics["faces.detection_rate"] == 1.0 and metrics["gaze.images"] == 160
    assert any(k.startswith("face_rates.single.salient_in_face.feature") for k in metrics)
    experiment = client.get_experiment(run_.info.experiment_id)
    assert experiment.artifact_location.startswith((root / "mlruns").as_uri())


def test_changing_the_seed_reruns_from_sampling_and_logs_a_second_run(second_run):
    root, proc, first, second, dataset_mtime = second_run
    assert second["run_id"] != first["run_id"]
    runs = {r.info.run_id: r for r in _runs(root)}
    assert set(runs) == {first["run_id"], second["run_id"]}
    assert runs[second["run_id"]].data.params["seed"] == "7"
    # the dataset did not depend on the seed: not rebuilt
    assert (root / "data/demo/images.parquet").stat().st_mtime_ns == dataset_mtime
    log = proc.stdout + proc.stderr
    assert "rule sample_pairs" in log and "rule prepare_data" not in log
    # faces and single-image saliency depend on the images only
    assert "rule faces" not in log and "rule image_saliency" not in log


def test_mlflow_server_rest_api_lists_the_runs(second_run):
    root, _, first, second, _ = second_run
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
        ids = {r["info"]["run_id"] for r in found["runs"]
               if "cropaudit.run" not in {t["key"] for t in r["data"].get("tags", [])}}
        assert ids == {first["run_id"], second["run_id"]}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        server_log.close()
