"""DVC with a remote on the S3 server (scripts/services/s3.sh): `dvc push` the dataset, model
and results of a `dvc repro`; a fresh clone `dvc pull`s them and `dvc repro` has nothing to do;
an experiment travels the same way with `dvc exp push` / `dvc exp pull`."""

from __future__ import annotations

import re

import pytest
import yaml

from support.services import TINY_AUDIT
from support.workflow import fastgaze_model, project, run, tool

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

MODEL = fastgaze_model()
#: FastGaze too when its file is here, so that the model file is a DVC output pushed too.
PARAMS = {**TINY_AUDIT, "croppers": ["center", *(["fastgaze"] if MODEL else [])],
          "saliency": {"shards": 1}}
SHARED_FILES = ["data/demo/images.parquet", "data/demo/faces.parquet", "results/pairs.parquet",
                "results/croppers/center/saliency.parquet", "results/metrics.json",
                "results/croppers/center/stats/comparisons.csv", "results/report.html"]


@pytest.fixture(scope="module")
def pushed(services, tmp_path_factory):
    """A DVC project built by `dvc repro`, committed to a bare git `origin`, pushed to S3."""
    s3 = services.start("s3")
    env = {**s3, **({"CROPAUDIT_FASTGAZE": str(MODEL)} if MODEL else {})}
    base = tmp_path_factory.mktemp("dvc-remote")
    origin = base / "origin.git"
    run(["git", "init", "-q", "--bare", "-b", "main", str(origin)], cwd=base)
    root = project(base / "audit", PARAMS)

    def sh(*cmd: str):
        return run(list(cmd), cwd=root, **env)

    sh("git", "branch", "-M", "main")
    sh(tool("dvc"), "remote", "add", "-d", "storage", "s3://cropaudit/dvc")
    sh(tool("dvc"), "remote", "modify", "storage", "endpointurl", s3["AWS_ENDPOINT_URL"])
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "audit")
    sh(tool("dvc"), "repro")
    # outputs DVC does not cache (metrics, figures, the run record) are for git to keep;
    # /results/ is git-ignored, hence -f
    sh("git", "add", "-f", *uncached_outputs(root))
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "results")
    sh("git", "remote", "add", "origin", str(origin))
    sh("git", "push", "-q", "origin", "main")
    push = sh(tool("dvc"), "push")
    return root, origin, env, push.stdout + push.stderr


def uncached_outputs(root) -> list[str]:
    """Outputs and metrics of dvc.yaml marked `cache: false`."""
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"].values()
    return [path for stage in stages for entry in stage.get("outs", []) + stage.get("metrics", [])
            if isinstance(entry, dict) for path, opts in entry.items()
            if opts and opts.get("cache") is False]


def locked_outputs(root) -> dict[str, str]:
    """path -> md5 of every stage output recorded in dvc.lock."""
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return {o["path"]: o["md5"] for stage in lock["stages"].values() for o in stage.get("outs", [])}


def test_push_stores_data_model_and_results_on_s3(pushed):
    import boto3

    root, _, env, output = pushed
    assert re.search(r"\d+ files? pushed", output), output
    outs = locked_outputs(root)
    expected = {"data/demo", "models", "results/pairs.parquet", "results/croppers",
                "results/report.html", "results/comparison", "results/probes"}
    assert expected <= set(outs)
    s3 = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                      aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                      aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"])
    keys = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket="cropaudit", Prefix="dvc/") for o in page.get("Contents", [])}
    for path in expected:
        md5 = outs[path].removesuffix(".dir")
        assert any(k.endswith(f"/{md5[:2]}/{md5[2:]}") or f"/{md5[:2]}/{md5[2:]}.dir" in k
                   for k in keys), f"{path} ({md5}) not in the bucket"
    status = run([tool("dvc"), "status", "--cloud"], cwd=root, **env).stdout
    assert "in sync" in status, status


def test_clone_pull_then_repro_has_nothing_to_do(pushed, tmp_path):
    root, origin, env, _ = pushed
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], cwd=tmp_path)
    assert not (clone / "results/pairs.parquet").exists()  # DVC's, not git's
    run([tool("dvc"), "pull"], cwd=clone, **env)
    for path in SHARED_FILES + (["models/fastgaze.vxm"] if MODEL else []):
        assert (clone / path).read_bytes() == (root / path).read_bytes(), path
    assert "up to date" in run([tool("dvc"), "status"], cwd=clone, **env).stdout
    out = run([tool("dvc"), "repro"], cwd=clone, **env).stdout
    assert "Running stage" not in out, out


def test_experiment_push_then_pull_in_another_clone(pushed, tmp_path):
    root, origin, env, _ = pushed
    dvc = tool("dvc")
    run([dvc, "exp", "run", "-n", "alpha01", "-S", "stats.alpha=0.01"], cwd=root, **env)
    run([dvc, "exp", "push", "origin", "alpha01"], cwd=root, **env)
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(origin), str(clone)], cwd=tmp_path)
    run([dvc, "exp", "pull", "origin", "alpha01"], cwd=clone, **env)
    assert "alpha01" in run([dvc, "exp", "list", "--name-only"], cwd=clone, **env).stdout
    run([dvc, "exp", "apply", "alpha01"], cwd=clone, **env)
    assert yaml.safe_load((clone / "params.yaml").read_text())["stats"]["alpha"] == 0.01
    for path in ("results/metrics.json", "results/croppers/center/stats/comparisons.csv",
                 "results/report.html"):
        assert (clone / path).read_bytes() == (root / path).read_bytes(), path
    assert "alpha: 0.01" in (clone / "results/report.html").read_text()
