"""dvc.yaml is generated from the Snakefile; a stale dvc.yaml fails here (drift check)."""

from __future__ import annotations

import sys

import yaml

from support.workflow import REPO_ROOT, copy_workflow, run, write_params

SYNC = [sys.executable, str(REPO_ROOT / "workflow/scripts/sync_dvc.py")]


def stages(root):
    return yaml.safe_load((root / "dvc.yaml").read_text())["stages"]


def test_checked_in_dvc_yaml_matches_the_snakefile():
    proc = run([*SYNC, "--check"], cwd=REPO_ROOT, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_changed_rule_is_detected_and_regenerated(tmp_path):
    root = copy_workflow(tmp_path / "wf")
    rules = root / "workflow/rules/saliency.smk"
    old = '"cropaudit score-crops --params params.yaml'
    rules.write_text(rules.read_text().replace(old, old.replace("crops --", "crops -v --")))
    proc = run([*SYNC, "--root", str(root), "--check"], cwd=root, check=False)
    assert proc.returncode == 1
    assert "+    cmd: cropaudit score-crops -v" in proc.stderr
    run([*SYNC, "--root", str(root)], cwd=root)
    assert stages(root)["score-crops"]["cmd"].startswith("cropaudit score-crops -v --params")


def test_stage_mirrors_rule_inputs_outputs_params_and_shards(tmp_path):
    root = copy_workflow(tmp_path / "wf")
    write_params(root, {"saliency": {"shards": 3}, "model": {"backend": "center"},
                        "croppers": ["center", "smartcrop"]})
    run([*SYNC, "--root", str(root)], cwd=root)
    s = stages(root)
    assert [n for n in s if n.startswith("saliency-")] == ["saliency-0", "saliency-1",
                                                            "saliency-2"]
    assert "fetch-model" not in s  # the center baseline needs no model file
    assert "--shard 2 --shards 3 " in s["saliency-2"]["cmd"]
    assert s["saliency-2"]["cmd"].endswith("--out results/saliency/shard-2.parquet")
    assert "--model" not in s["saliency-2"]["cmd"]
    data_deps = [d for d in s["gather"]["deps"] if not d.startswith("src/")]
    assert data_deps == [f"results/saliency/shard-{i}.parquet" for i in range(3)]
    assert s["sample-pairs"]["params"] == ["seed", "sampling"]
    assert s["stats"]["metrics"] == [{"results/metrics.json": {"cache": False}}]
    assert s["report"]["params"] == [{"params.yaml": None}]
    # one stage per cropper, named after it, with the cropper's own outputs
    assert s["cropper-saliency-smartcrop"]["cmd"].endswith(
        "--cropper smartcrop --out results/croppers/smartcrop/saliency-shard.parquet")
    assert s["cropper-stats-center"]["metrics"] == [
        {"results/croppers/center/metrics.json": {"cache": False}}]
    assert s["compare-croppers"]["params"] == ["croppers", "seed", "stats.alpha",
                                               "stats.bootstrap_resamples"]


def test_tracked_key_missing_from_params_file_is_an_error(tmp_path):
    root = copy_workflow(tmp_path / "wf")
    params = yaml.safe_load((root / "params.yaml").read_text())
    del params["model"]["url"]
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    proc = run([*SYNC, "--root", str(root)], cwd=root, check=False)
    assert proc.returncode == 2
    assert "'model.url'" in proc.stderr


def test_saved_composites_become_stage_outputs(tmp_path):
    root = copy_workflow(tmp_path / "wf")
    write_params(root, {"saliency": {"save_composites": True}})
    run([*SYNC, "--root", str(root)], cwd=root)
    stage = stages(root)["saliency-1"]
    assert stage["outs"] == ["results/saliency/shard-1.parquet", "results/composites/shard-1"]
    assert "--composites-dir results/composites/shard-1 " in stage["cmd"]


def test_manifest_sources_track_their_own_section(tmp_path):
    # folder and csv keep their settings under dataset.manifest (was: KeyError 'folder');
    # test_workflow_sources.py runs both through the tools
    root = copy_workflow(tmp_path / "wf")
    write_params(root, {"dataset": {"source": "folder", "manifest": {"root": "photos"}}})
    run([*SYNC, "--root", str(root)], cwd=root)
    assert stages(root)["prepare-data"]["params"] == [
        "dataset.source", "dataset.groups", "dataset.manifest", "model.max_pixels"]


def test_stages_depend_on_the_code_they_run():
    s = stages(REPO_ROOT)
    audit = "src/cropaudit/stats/audit.py"
    with_audit = {name for name, stage in s.items() if audit in stage.get("deps", [])}
    # the stats stage of the main run and of every cropper; later stages depend on their
    # outputs, not on the code
    assert with_audit == {"stats"} | {n for n in s if n.startswith("cropper-stats-")}
    assert len(with_audit) > 1
    assert "src/cropaudit/commands/faces.py" in s["faces"]["deps"]
    assert "src/cropaudit/reporting/templates/report.html" in s["report"]["deps"]
    assert "src/cropaudit/commands/faces.py" not in s["stats"]["deps"]
    for stage in s.values():
        assert "src/cropaudit/cli.py" in stage["deps"]
        assert not [d for d in stage["deps"] if d.startswith(".snakemake")]


def test_reading_the_params_does_not_make_a_stage_depend_on_every_backend():
    """Every command reads params.yaml through the config, which composes each section's
    schema (croppers/params.py, saliency/params.py, datasets/params.py, ...). Those packages'
    ``__init__`` must not pull in the croppers, models or dataset sources, or editing one
    cropper would rerun the whole audit."""
    s = stages(REPO_ROOT)
    smartcrop = "src/cropaudit/croppers/smartcrop.py"
    # the commands that can run any cropper (--cropper), and the two that list them all
    runs_croppers = {n for n in s if n.startswith(("saliency-", "cropper-saliency-",
                                                   "cropper-image-saliency-", "probe-"))}
    runs_croppers |= {"saliency", "image-saliency", "compare-croppers", "log-croppers"}
    with_smartcrop = {n for n, st in s.items() if smartcrop in st["deps"]}
    assert with_smartcrop <= runs_croppers
    assert "cropper-saliency-smartcrop" in with_smartcrop
    for name in ("sample-pairs", "stats", "plots", "gaze", "log-run"):
        deps = s[name]["deps"]
        assert "src/cropaudit/saliency/fastgaze.py" not in deps, name
        assert "src/cropaudit/datasets/wikiceleb.py" not in deps, name
        assert not [d for d in deps if d.startswith("src/cropaudit/croppers/")
                    and not d.endswith(("/__init__.py", "/params.py"))], name
    assert "src/cropaudit/datasets/wikiceleb.py" in s["prepare-data"]["deps"]
    assert "src/cropaudit/saliency/fastgaze.py" in s["saliency-0"]["deps"]


def test_rule_with_another_commands_declaration_is_an_error(tmp_path):
    root = copy_workflow(tmp_path / "wf")
    rules = root / "workflow/rules/data.smk"
    text = rules.read_text()
    assert text.count('**declared("faces")') == 1
    rules.write_text(text.replace('**declared("faces")', '**declared("sample-pairs")'))
    proc = run([*SYNC, "--root", str(root)], cwd=root, check=False)
    assert proc.returncode == 2
    assert "rule faces runs `cropaudit faces`" in proc.stderr
