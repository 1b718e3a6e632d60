"""Bad input ends a stage with one line naming the field or file, a non-zero exit and no
(stale or half-written) output."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from cropaudit.cli import main
from cropaudit.config import parse_params
from cropaudit.datasets.prepare import prepare_dataset
from support.workflow import copy_workflow, run, tool

DEMO = {"dataset": {"groups": {"attributes": ["feature", "cohort"]},
                    "demo": {"images_per_group": 3}},
        "model": {"backend": "center"}}


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    prepare_dataset(parse_params(DEMO), tmp_path / "data/demo/images.parquet")
    return tmp_path


def write_params(path, **sections):
    data = {**DEMO, **sections}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return str(path)


def one_line_error(capsys, *fragments):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    for fragment in fragments:
        assert fragment in err[0], err[0]
    return err[0]


def test_unknown_group(workspace, capsys):
    params = write_params(workspace / "p.yaml", sampling={"groups": ["marked_a", "purple_x"]})
    code = main(["sample-pairs", "--params", params, "--dataset", "data/demo/images.parquet",
                 "--out", "results/pairs.parquet"])
    assert code != 0
    one_line_error(capsys, "sampling.groups", "'purple_x'")
    assert not (workspace / "results/pairs.parquet").exists()


@pytest.mark.parametrize("n", [0, -3])
def test_n_not_positive(workspace, capsys, n):
    params = write_params(workspace / "p.yaml", sampling={"n": n})
    code = main(["sample-pairs", "--params", params, "--dataset", "data/demo/images.parquet",
                 "--out", "results/pairs.parquet"])
    assert code != 0
    one_line_error(capsys, "p.yaml: sampling.n:", "greater than 0")
    assert not (workspace / "results").exists()


def test_missing_dataset(workspace, capsys):
    params = write_params(workspace / "p.yaml")
    code = main(["sample-pairs", "--params", params, "--dataset", "data/nope/images.parquet",
                 "--out", "results/pairs.parquet"])
    assert code != 0
    one_line_error(capsys, "data/nope/images.parquet", "not found")
    assert not (workspace / "results").exists()


def test_unreadable_image_removes_the_stale_shard(workspace, capsys):
    params = write_params(workspace / "p.yaml", sampling={"n": 3})
    assert main(["sample-pairs", "--params", params, "--dataset", "data/demo/images.parquet",
                 "--out", "results/pairs.parquet"]) == 0
    out = workspace / "results/saliency/shard-0.parquet"
    out.parent.mkdir(parents=True)
    out.write_bytes(b"an old shard from an earlier run")
    first = pd.read_parquet(workspace / "results/pairs.parquet")["image_id"].iloc[0]
    victim = workspace / f"data/demo/images/{first}.jpg"
    victim.write_bytes(b"\xff\xd8 truncated")
    capsys.readouterr()
    code = main(["pair-saliency", "--params", params, "--dataset", "data/demo/images.parquet",
                 "--pairs", "results/pairs.parquet", "--out", str(out)])
    assert code != 0
    one_line_error(capsys, f"{first}.jpg")
    assert not out.exists()
    assert not list(out.parent.glob(".*tmp"))  # no temporary left behind either


def test_snakemake_stops_before_any_job_on_invalid_params(tmp_path):
    root = copy_workflow(tmp_path / "wf", {"sampling": {"n": 0}})
    proc = run([tool("snakemake"), "--cores", "1"], cwd=root, check=False)
    assert proc.returncode != 0
    assert "params.yaml: sampling.n: Input should be greater than 0" in proc.stderr
    assert not (root / "results").exists() and not (root / "data").exists()


def test_snakemake_refuses_config_overrides_the_commands_would_not_see(tmp_path):
    root = copy_workflow(tmp_path / "wf")
    proc = run([tool("snakemake"), "--cores", "1", "-n", "--config", "seed=3"], cwd=root,
               check=False)
    assert proc.returncode != 0
    assert "edit params.yaml instead" in proc.stderr
