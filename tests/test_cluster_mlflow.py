"""`cropaudit log-run` against a real MLflow tracking server (scripts/services/mlflow.sh) whose
backend store is PostgreSQL (postgres.sh) and whose artifact store is the S3 server (s3.sh):
one run complete on the server, parallel jobs as separate complete runs, and a job killed
mid-log left FAILED. Prints the server round trip (README, "Scaling out")."""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from support.services import service_env
from support.workflow import tool, tool_env

pytestmark = [pytest.mark.cluster, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(services):
    """MLflow server on PostgreSQL + S3; returns the environment a client job would have."""
    postgres = services.start("postgres")
    s3 = services.start("s3")
    mlflow = services.start("mlflow")
    return service_env(postgres, s3, mlflow)


def log_run_cmd(root: Path, experiment: str, out: Path) -> list[str]:
    """The log_run rule's command, with its own params file naming ``experiment``."""
    params = yaml.safe_load((root / "results/config.yaml").read_text())
    params["tracking"]["experiment"] = experiment
    params_file = out.with_suffix(".params.yaml")
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))
    r = root / "results"
    primary = r / "croppers" / params["croppers"][0]
    return [tool("cropaudit"), "log-run", "--params", str(params_file),
            "--dataset", str(root / "data/demo/images.parquet"),
            "--metrics", str(r / "metrics.json"), str(r / "gaze-metrics.json"),
            str(r / "probes.json"),
            "--stats-dir", str(primary / "stats"), "--figures-dir", str(primary / "figures"),
            "--artifacts", str(primary / "gaze"), str(r / "probes"),
            "--report", str(r / "report.html"), "--out", str(out)]


def start_log_run(root: Path, server: dict[str, str], experiment: str, out: Path):
    env = tool_env(MLFLOW_TRACKING_URI=server["MLFLOW_TRACKING_URI"])
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL"):
        env.pop(key, None)  # artifacts go through the server: a job needs no S3 credentials
    return subprocess.Popen(log_run_cmd(root, experiment, out), cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    output, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, output[-3000:]
    return output


def client(server):
    from mlflow.tracking import MlflowClient

    return MlflowClient(server["MLFLOW_TRACKING_URI"])


def assert_complete(server, run_id: str, root: Path, dest: Path) -> None:
    """The run is FINISHED on the server with every param, metric and artifact folder; its
    rows are in PostgreSQL and its artifacts in the S3 bucket."""
    import boto3
    import psycopg2

    c = client(server)
    run = c.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.params["saliency.shards"] == "4" and len(run.data.params) > 50
    assert run.data.metrics and "faces.detection_rate" in run.data.metrics
    names = {a.path for a in c.list_artifacts(run_id)}
    assert {"tables", "figures", "report", "config", "metrics", "gaze", "environment"} <= names
    with psycopg2.connect(server["POSTGRES_URI"]) as db, db.cursor() as cur:
        cur.execute("SELECT status FROM runs WHERE run_uuid = %s", (run_id,))
        assert cur.fetchone() == ("FINISHED",)
    s3 = boto3.client("s3", endpoint_url=server["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="cropaudit", Prefix="mlflow/").get(
        "Contents", []) if f"/{run_id}/" in o["Key"]]
    assert any(k.endswith("metrics/metrics.json") for k in keys), keys[:5]
    local = json.loads((root / "results/metrics.json").read_text())
    logged = c.download_artifacts(run_id, "metrics/metrics.json", str(dest))
    assert json.loads(Path(logged).read_text()) == local


def test_log_run_lands_complete_on_the_server(server, tiny_audit, tmp_path):
    root, _ = tiny_audit
    started = time.monotonic()
    finish(start_log_run(root, server, "single", tmp_path / "run.json"))
    wall = time.monotonic() - started
    record = json.loads((tmp_path / "run.json").read_text())
    assert record["tracking_uri"] == server["MLFLOW_TRACKING_URI"]
    assert_complete(server, record["run_id"], root, tmp_path)
    c = client(server)
    trips = []
    for _ in range(20):
        t = time.perf_counter()
        c.get_run(record["run_id"])
        trips.append(time.perf_counter() - t)
    print(f"\nmlflow server: log-run {wall:.1f} s; get_run round trip median "
          f"{statistics.median(trips) * 1000:.1f} ms (min {min(trips) * 1000:.1f})")


def test_parallel_log_runs_are_separate_complete_runs(server, tiny_audit, tmp_path):
    """Three jobs at once, into an experiment none of them finds: they race to create it."""
    root, _ = tiny_audit
    outs = [tmp_path / f"run-{i}.json" for i in range(3)]
    procs = [start_log_run(root, server, "parallel", out) for out in outs]
    for proc in procs:
        finish(proc)
    ids = [json.loads(out.read_text())["run_id"] for out in outs]
    assert len(set(ids)) == 3
    c = client(server)
    experiment = c.get_experiment_by_name("parallel")
    listed = {r.info.run_id for r in c.search_runs([experiment.experiment_id])}
    assert listed == set(ids)
    for run_id in ids:
        (tmp_path / run_id).mkdir()
        assert_complete(server, run_id, root, tmp_path / run_id)


def test_killed_log_run_is_failed_not_running(server, tiny_audit, tmp_path):
    """Slurm (scancel, time limit) ends a job with SIGTERM; the run must not stay RUNNING."""
    root, _ = tiny_audit
    proc = start_log_run(root, server, "killed", tmp_path / "run.json")
    c = client(server)
    deadline = time.monotonic() + 300
    runs = []
    while not runs:
        assert proc.poll() is None, "log-run ended before it could be killed"
        assert time.monotonic() < deadline, "no run appeared on the server"
        experiment = c.get_experiment_by_name("killed")
        if experiment is not None:
            runs = c.search_runs([experiment.experiment_id])
        time.sleep(0.2)
    assert runs[0].info.status == "RUNNING"
    os.kill(proc.pid, signal.SIGTERM)
    proc.communicate(timeout=120)
    assert not (tmp_path / "run.json").exists()
    assert c.get_run(runs[0].info.run_id).info.status == "FAILED"
