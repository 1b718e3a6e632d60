"""`dvc repro` in a temporary git repository: builds everything once, then reruns only what
a parameter change touches. Uses the center baseline (no TensorFlow) to stay quick; the
generated dvc.yaml is regenerated for that backend first, as a user would."""

from __future__ import annotations

import re
import sys
import time

import pytest
import yaml

from support.workflow import REPO_ROOT, copy_workflow, run, tool

pytestmark = pytest.mark.slow

TINY = {"model": {"backend": "center"}, "sampling": {"n": 6}, "saliency": {"shards": 2},
        "dataset": {"demo": {"images_per_group": 6}}, "gaze": {"review_per_value": 2},
        "croppers": ["center"],
        # probes on 2 base tuples per comparison, edits of one image per group
        "probes": {"tuples_per_comparison": 2, "jpeg": [50], "edits": {"images_per_group": 1}}}
UPSTREAM = ["data/demo/images.parquet", "data/demo/faces.parquet", "results/pairs.parquet",
            "results/saliency/shard-0.parquet", "results/saliency.parquet",
            "results/image-saliency.parquet", "results/crops.parquet",
            "results/image-crops.parquet"]
DOWNSTREAM = ["results/metrics.json", "results/stats/comparisons.csv",
              "results/stats/face_rates.csv", "results/gaze-metrics.json",
              "results/gaze/rates.csv", "results/report.html", "results/mlflow-run.json"]


def dvc(root, *args):
    return run([tool("dvc"), *args], cwd=root)


def stages_to_run(root) -> set[str]:
    out = dvc(root, "repro", "--dry").stdout
    return set(re.findall(r"Running stage '([^']+)'", out))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    root = copy_workflow(tmp_path_factory.mktemp("dvc") / "audit", TINY)
    run([sys.executable, str(REPO_ROOT / "workflow/scripts/sync_dvc.py"), "--root", str(root)],
        cwd=root)
    run(["git", "init", "-q"], cwd=root)
    run(["git", "add", "-A"], cwd=root)
    run(["git", "commit", "-qm", "audit"], cwd=root)
    started = time.monotonic()
    dvc(root, "repro")
    print(f"dvc repro (first): {time.monotonic() - started:.1f} s")
    return root


def test_first_repro_builds_every_stage(repo):
    for path in UPSTREAM + DOWNSTREAM:
        assert (repo / path).is_file(), path
    assert (repo / "dvc.lock").is_file()
    assert "Data and pipelines are up to date" in dvc(repo, "status").stdout


def test_second_repro_is_a_noop(repo):
    started = time.monotonic()
    out = dvc(repo, "repro").stdout
    print(f"dvc repro (no-op): {time.monotonic() - started:.1f} s")
    assert "Running stage" not in out
    assert stages_to_run(repo) == set()


def test_stats_param_reruns_only_the_stages_after_stats(repo):
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("alpha: 0.05", "alpha: 0.01"))
    status = dvc(repo, "status").stdout
    changed = set(re.findall(r"^([\w-]+):$", status, flags=re.M))
    # report and log-run show params.yaml in full, so they follow any parameter change; the
    # gaze stage's rates use the same significance level
    after_stats = {"stats", "plots", "gaze", "report", "log-run",
                   # each cropper's stats, and the comparison that uses the same level
                   "cropper-stats-center", "cropper-plots-center", "compare-croppers",
                   "log-croppers",
                   # probe verdicts use the same level (the probe runs themselves do not)
                   "probe-stats"}
    assert changed == after_stats, status
    assert stages_to_run(repo) == after_stats
    before = {p: (repo / p).stat().st_mtime_ns for p in UPSTREAM + DOWNSTREAM}
    dvc(repo, "repro")
    for p in UPSTREAM:
        assert (repo / p).stat().st_mtime_ns == before[p], f"{p} was rebuilt"
    for p in DOWNSTREAM:
        assert (repo / p).stat().st_mtime_ns != before[p], f"{p} was not rebuilt"
    assert "alpha: 0.01" in (repo / "results/report.html").read_text()


def test_dvc_plots_show_renders_the_figures_without_network(repo, tmp_path):
    # a Snakemake run of the same workflow leaves its marker in the folder: it must not matter
    (repo / "results/figures/.snakemake_timestamp").touch()
    proc = dvc(repo, "plots", "show", "-o", str(tmp_path / "plots"))
    assert "failed" not in (proc.stdout + proc.stderr).lower()
    html = (tmp_path / "plots/index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    declared = yaml.safe_load((repo / "dvc.yaml").read_text())["plots"]
    assert len(images) == len(declared) >= 3
    assert all((repo / p).is_file() for p in declared)
    assert all((tmp_path / "plots" / src).is_file() for src in images)
    assert "<script" not in html  # image plots only: no vega from a CDN


def test_adding_a_cropper_runs_only_its_stages_and_the_comparison(repo):
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["croppers"] = ["center", "opencv-spectral"]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run([sys.executable, str(REPO_ROOT / "workflow/scripts/sync_dvc.py"), "--root", str(repo)],
        cwd=repo)
    new = {f"cropper-{s}-opencv-spectral" for s in
           ("saliency", "gather", "image-saliency", "crops", "stats", "plots")}
    new |= {f"probe-{k}-opencv-spectral" for k in
            ("baseline", "padding", "gap", "order", "layout", "scaling", "jpeg", "grid",
             "edits")} | {"probe-stats"}
    # report, log-run and log-croppers record params.yaml in full
    assert stages_to_run(repo) == new | {"compare-croppers", "log-croppers", "report",
                                         "log-run"}


def test_adding_a_padding_offset_reruns_only_the_padding_probes(repo):
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["probes"]["padding"] = [*params["probes"]["padding"], 40]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run([sys.executable, str(REPO_ROOT / "workflow/scripts/sync_dvc.py"), "--root", str(repo)],
        cwd=repo)
    # (an earlier test may have left another cropper pending; a dry run lists the stages whose
    # own deps or params changed — probe-stats follows when the padding table does)
    todo = stages_to_run(repo)
    assert "probe-padding-center" in todo
    center_probes = {s for s in todo if s.startswith("probe-") and s.endswith("-center")}
    assert center_probes == {"probe-padding-center"}
    tables = sorted((repo / "results/probes/center").glob("*.parquet"))
    before = {p.name: p.stat().st_mtime_ns for p in tables}
    metrics = (repo / "results/probes/metrics.json").stat().st_mtime_ns
    dvc(repo, "repro", "probe-stats")
    after = {p.name: p.stat().st_mtime_ns for p in tables}
    assert {n for n in before if after[n] != before[n]} == {"padding.parquet"}
    assert (repo / "results/probes/metrics.json").stat().st_mtime_ns != metrics
    assert "padding_40" in (repo / "results/probes/metrics.json").read_text().replace("=", "_")
