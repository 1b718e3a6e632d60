"""`dvc repro` and `snakemake` on one temporary git repository: DVC builds everything once and
reruns only what a parameter or code change touches; after either tool has run, the other has
nothing to do. Uses the center baseline (no TensorFlow for saliency) to stay quick; the
generated dvc.yaml is regenerated for that backend first, as a user would."""

from __future__ import annotations

import re
import sys
import time

import pytest
import yaml

from support.workflow import (
    REPO_ROOT,
    copy_workflow,
    dvc_changed,
    dvc_project,
    run,
    snakemake_plan,
    tool,
)

pytestmark = pytest.mark.slow

TINY = {"model": {"backend": "center"}, "sampling": {"n": 6}, "saliency": {"shards": 2},
        "dataset": {"demo": {"images_per_group": 6}}, "gaze": {"review_per_value": 2},
        "stats": {"bootstrap_resamples": 100}, "croppers": ["center"],
        # probes on 2 base tuples per comparison, edits of one image per group
        "probes": {"tuples_per_comparison": 2, "jpeg": [50], "edits": {"images_per_group": 1}}}
#: Stages after the statistics (DVC names); Snakemake's rules are the same with underscores.
AFTER_STATS = {"stats", "plots", "report", "log-run"}
#: The same for the cropper comparison (one cropper here, center): its own statistics run the
#: same code. DVC names a stage per cropper, Snakemake has one rule with a {cropper} wildcard;
#: log-croppers records each cropper's metrics in MLflow. (compare-croppers and the probe
#: statistics run other code: stats/croppers.py, stats/probes.py.)
CROPPER_STATS_STAGE = "cropper-stats-center"
CROPPER_AFTER_STATS_RULES = {"cropper_stats", "cropper_plots", "log_croppers"}
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
    root = dvc_project(copy_workflow(tmp_path_factory.mktemp("dvc") / "audit", TINY))
    started = time.monotonic()
    dvc(root, "repro")
    print(f"dvc repro (first): {time.monotonic() - started:.1f} s")
    return root


def test_first_repro_builds_every_stage(repo):
    for path in UPSTREAM + DOWNSTREAM:
        assert (repo / path).is_file(), path
    assert (repo / "dvc.lock").is_file()
    assert "Data and pipelines are up to date" in dvc(repo, "status").stdout


def test_snakemake_has_nothing_to_do_after_dvc_repro(repo):
    assert snakemake_plan(repo) == set()


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
    # Snakemake agrees, although it never saw alpha 0.05 change
    assert snakemake_plan(repo) == set()


def snake(stages: set[str]) -> set[str]:
    return {s.replace("-", "_") for s in stages}


def test_editing_statistics_code_reruns_stats_and_after_in_both_tools(repo):
    audit = repo / "src/cropaudit/stats/audit.py"
    audit.write_text(audit.read_text() + "# an edit to the statistics code\n")
    # DVC lists the stages whose own deps changed; Snakemake also what follows them. Neither
    # touches anything upstream (or the gaze stage, which does not run this code).
    assert dvc_changed(repo) == {"stats", CROPPER_STATS_STAGE}
    assert snakemake_plan(repo) == snake(AFTER_STATS) | CROPPER_AFTER_STATS_RULES
    before = {p: (repo / p).stat().st_mtime_ns for p in UPSTREAM + DOWNSTREAM}
    metrics = (repo / "results/metrics.json").read_bytes()
    dvc(repo, "repro")
    for p in [*UPSTREAM, "results/gaze/rates.csv", "results/gaze-metrics.json"]:
        assert (repo / p).stat().st_mtime_ns == before[p], f"{p} was rebuilt"
    assert (repo / "results/metrics.json").stat().st_mtime_ns != before["results/metrics.json"]
    # A comment changes no result, so DVC stops after stats (its outputs hash the same);
    # Snakemake goes by file times and redraws what follows once: the documented corner
    # (docs/workflow.md, "Where the two tools can disagree").
    assert (repo / "results/metrics.json").read_bytes() == metrics
    assert snakemake_plan(repo) == snake(AFTER_STATS - {"stats"}) | (
        CROPPER_AFTER_STATS_RULES - {"cropper_stats"})
    started = time.monotonic()
    out = run([tool("snakemake"), "--cores", "2"], cwd=repo).stdout
    print(f"snakemake after a code edit: {time.monotonic() - started:.1f} s")
    assert "stage(s) in dvc.lock" in out
    for p in UPSTREAM:
        assert (repo / p).stat().st_mtime_ns == before[p], f"{p} was rebuilt"
    assert (repo / "results/report.html").stat().st_mtime_ns != before["results/report.html"]
    assert snakemake_plan(repo) == set()
    assert dvc_changed(repo) == set()


def test_a_parameter_change_is_seen_alike_and_snakemake_satisfies_dvc(repo):
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("review_per_value: 2", "review_per_value: 1"))
    # log-croppers, like log-run, records params.yaml in full
    gaze_and_after = {"gaze", "report", "log-run", "log-croppers"}
    assert dvc_changed(repo) == gaze_and_after
    assert snakemake_plan(repo) == snake(gaze_and_after)
    before = {p: (repo / p).stat().st_mtime_ns for p in UPSTREAM}
    run([tool("snakemake"), "--cores", "2"], cwd=repo)
    assert all((repo / p).stat().st_mtime_ns == t for p, t in before.items())
    # Snakemake recorded its run for DVC (dvc commit): nothing left to do for either tool
    assert dvc_changed(repo) == set()
    assert stages_to_run(repo) == set()
    assert snakemake_plan(repo) == set()


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


def _changed_stages(root) -> set[str]:
    return set(re.findall(r"^([\w-]+):$", dvc(root, "status").stdout, flags=re.M))


def test_adding_a_cropper_runs_only_its_stages_and_the_comparison(repo):
    already = _changed_stages(repo)  # e.g. plots, after the plots test touched its folder
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    params["croppers"] = ["center", "opencv-spectral"]
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    run([sys.executable, str(REPO_ROOT / "workflow/scripts/sync_dvc.py"), "--root", str(repo)],
        cwd=repo)
    new = {f"cropper-{s}-opencv-spectral" for s in
           ("saliency", "gather", "image-saliency", "crops", "stats", "plots")}
    changed = _changed_stages(repo)
    assert new | {"compare-croppers", "log-croppers"} <= changed
    # the new cropper's probe stages and the probe statistics follow it
    new |= {c for c in changed if c.startswith("probe-") and c.endswith("-opencv-spectral")}
    new |= {"probe-stats"} & changed
    # report, log-run and log-croppers also record params.yaml in full
    assert changed <= new | {"compare-croppers", "log-croppers", "report", "log-run"} | already
    assert not [s for s in changed - already if s.endswith("-center")]
    kept = "results/croppers/center/saliency.parquet"
    before = (repo / kept).stat().st_mtime_ns
    out = dvc(repo, "repro").stdout
    assert "Running stage 'cropper-saliency-center'" not in out
    assert (repo / kept).stat().st_mtime_ns == before
    assert (repo / "results/croppers/opencv-spectral/metrics.json").is_file()
