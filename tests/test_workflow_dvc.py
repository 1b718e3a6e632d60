"""`dvc repro` and `snakemake` on one project of its own (a git repository with this checkout's
workflow and package, params.yaml with the tiny audit): DVC's stages run Snakemake, which
reruns exactly what a change of settings, code or pinned library touches; after either tool has
run, the other has nothing to do.

The tests run in order on one project: each leaves it up to date for the next. Changes of code
are made in the project's copy of the package, which its tools run (PYTHONPATH).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import yaml

from support.workflow import CONFIGS, dvc_changed, planned_jobs, project, run, tool

pytestmark = pytest.mark.slow

#: The stages of dvc.yaml.
STAGES = {"prepare", "croppers", "report", "track"}
#: What summarises all croppers (rules without a {cropper} wildcard, after the croppers).
SUMMARIES = {"compare_croppers", "probe_stats", "headline", "report", "log_run",
             "log_croppers"}
#: One cropper's chain (rules keyed by {cropper}).
CHAIN = {"pair_saliency", "gather", "image_saliency", "score_crops", "stats", "gaze", "plots",
         "probe", "probe_edits"}


def dvc(root: Path, *args: str) -> str:
    return run([tool("dvc"), *args], cwd=root).stdout


def snakemake(root: Path, *args: str) -> str:
    proc = run([tool("snakemake"), "--cores", "2", *args], cwd=root)
    return proc.stdout + proc.stderr


def mtimes(root: Path, folder: str) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns
            for p in sorted((root / folder).rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    tiny = yaml.safe_load((CONFIGS / "tiny.yaml").read_text(encoding="utf-8"))
    root = project(tmp_path_factory.mktemp("dvc") / "audit", tiny)
    started = time.monotonic()
    dvc(root, "repro")
    print(f"dvc repro (first): {time.monotonic() - started:.1f} s")
    return root


def test_dvc_yaml_is_short_and_hand_written(repo):
    text = (repo / "dvc.yaml").read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 100
    assert set(yaml.safe_load(text)["stages"]) == STAGES
    assert "GENERATED" not in text


def test_after_dvc_repro_snakemake_has_nothing_to_do(repo):
    assert planned_jobs(repo) == {}
    assert dvc_changed(repo) == set()
    assert "Running stage" not in dvc(repo, "repro")


def test_an_audit_without_fastgaze_has_no_fastgaze_anywhere(repo):
    # tiny audits three model-free croppers: the report leads with the first listed
    results = repo / "results"
    assert sorted(p.name for p in (results / "croppers").iterdir()) == [
        "center", "opencv-spectral", "smartcrop"]
    assert not list((repo / "models").iterdir())  # no model fetched
    import pandas as pd

    for path in results.rglob("*.parquet"):
        table = pd.read_parquet(path)
        for column in ("model", "cropper"):
            if column in table.columns:
                assert "fastgaze" not in set(table[column].astype(str)), path
    assert (results / "metrics.json").read_bytes() == (
        results / "croppers/center/metrics.json").read_bytes()
    assert not [p for p in results.rglob("*") if "fastgaze" in p.name]


def test_editing_statistics_reruns_statistics_and_after_for_every_cropper(repo):
    source = repo / "src/cropaudit/stats/audit.py"
    original = source.read_text()
    source.write_text(original + "\n# an edit\n")
    try:
        jobs = planned_jobs(repo)
        assert {"stats", "plots"} <= set(jobs)
        assert jobs["stats"] == {f"cropper={c}" for c in ("center", "opencv-spectral",
                                                          "smartcrop")}
        # nothing upstream of the statistics (gaze runs statistics code too)
        assert not {"prepare_data", "faces", "sample_pairs", "pair_saliency", "gather",
                    "image_saliency", "score_crops", "probe", "probe_edits"} & set(jobs)
        # every DVC stage depends on the whole package; inside them Snakemake decides
        assert dvc_changed(repo) == STAGES
    finally:
        source.write_text(original)
    assert planned_jobs(repo) == {}  # the code is what it was: nothing to redo


def test_editing_one_cropper_reruns_its_chain_and_the_summaries_only(repo):
    source = repo / "src/cropaudit/croppers/smartcrop.py"
    source.write_text(source.read_text() + "\n# an edit\n")
    jobs = planned_jobs(repo)
    keyed = {rule for rule in jobs if rule in CHAIN}
    assert keyed == CHAIN
    assert all(jobs[rule] <= {"cropper=smartcrop", "cropper=smartcrop, shard=0"}
               for rule in keyed)
    assert set(jobs) - CHAIN <= SUMMARIES
    centre = mtimes(repo, "results/croppers/center")
    dvc(repo, "repro")
    assert mtimes(repo, "results/croppers/center") == centre
    assert planned_jobs(repo) == {} and dvc_changed(repo) == set()


def test_after_snakemake_dvc_has_nothing_to_do(repo):
    params = repo / "params.yaml"
    config = yaml.safe_load(params.read_text())
    config["gaze"]["review_per_value"] = 2
    params.write_text(yaml.safe_dump(config, sort_keys=False))
    jobs = planned_jobs(repo)
    # gaze reads it; the report and the MLflow runs record the whole configuration
    assert set(jobs) <= {"gaze", "headline", "report", "log_run", "log_croppers"}
    assert jobs["gaze"] == {f"cropper={c}" for c in ("center", "opencv-spectral", "smartcrop")}
    assert "prepare" not in dvc_changed(repo)
    out = snakemake(repo)
    # Snakemake records what it brought up to date in dvc.lock: every stage, the whole DAG
    assert "recorded DVC stage(s) prepare, croppers, report, track in dvc.lock" in out
    assert dvc_changed(repo) == set() and planned_jobs(repo) == {}


def test_adding_a_cropper_runs_only_its_chain_and_the_summaries(repo):
    params = repo / "params.yaml"
    original = params.read_text()
    config = yaml.safe_load(original)
    config["croppers"].append("face-center")
    params.write_text(yaml.safe_dump(config, sort_keys=False))
    try:
        jobs = planned_jobs(repo)
        assert {rule for rule in jobs if rule in CHAIN} == CHAIN
        assert all(all("face-center" in w for w in jobs[rule]) for rule in CHAIN)
        assert set(jobs) - CHAIN <= SUMMARIES
    finally:
        params.write_text(original)


def test_raising_a_pinned_library_reruns_the_croppers_that_use_it(repo):
    constraints = repo / "constraints.txt"
    original = constraints.read_text()
    for name, cropper in (("opencv-contrib-python-headless", "opencv-spectral"),
                          ("smartcrop", "smartcrop")):
        raised = re.sub(rf"(?m)^{re.escape(name)}==.*$", f"{name}==99.0", original)
        assert raised != original
        constraints.write_text(raised)
        try:
            jobs = planned_jobs(repo)
            assert jobs["pair_saliency"] == {f"cropper={cropper}, shard=0"}
            assert {rule for rule in jobs if rule in CHAIN} == CHAIN
            assert set(jobs) - CHAIN <= SUMMARIES
        finally:
            constraints.write_text(original)
    assert planned_jobs(repo) == {}


def test_experiments_metrics_and_plots(repo, tmp_path):
    run(["git", "add", "-A"], cwd=repo)
    run(["git", "commit", "-qm", "audit with results"], cwd=repo)
    out = dvc(repo, "exp", "run", "-S", "report.title=an experiment")
    assert "Ran experiment" in out
    assert "an experiment" in (repo / "results/report.html").read_text()
    shown = dvc(repo, "exp", "show", "--no-pager", "--csv")
    assert "report.title" in shown and "an experiment" in shown
    diff = dvc(repo, "metrics", "diff", "--all")
    assert "metrics.json" in diff
    # plots: the primary cropper's figures, rendered without the network
    (repo / "results/figures/.snakemake_timestamp").touch()
    proc = run([tool("dvc"), "plots", "show", "-o", str(tmp_path / "plots")], cwd=repo)
    assert "failed" not in (proc.stdout + proc.stderr).lower()
    html = (tmp_path / "plots/index.html").read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == len(list((repo / "results/figures").glob("*.png"))) >= 3
    assert "<script" not in html  # image plots only: no vega from a CDN
