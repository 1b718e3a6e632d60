"""Bad input ends a stage with one line naming the field or file, a non-zero exit and no
(stale or half-written) output."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from cropaudit.cli import main
from cropaudit.config import parse_params
from cropaudit.datasets.prepare import prepare_dataset
from support.workflow import snakemake, write_yaml

DEMO = {"dataset": {"groups": {"attributes": ["feature", "cohort"]},
                    "demo": {"images_per_group": 3}},
        "croppers": ["center"]}


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
    code = main(["pair-saliency", "--params", params, "--cropper", "center",
                 "--dataset", "data/demo/images.parquet",
                 "--pairs", "results/pairs.parquet", "--out", str(out)])
    assert code != 0
    one_line_error(capsys, f"{first}.jpg")
    assert not out.exists()
    assert not list(out.parent.glob(".*tmp"))  # no temporary left behind either


def test_snakemake_stops_before_any_job_on_invalid_params(tmp_path):
    overlay = write_yaml(tmp_path / "bad.yaml", {"sampling": {"n": 0}})
    proc = snakemake(tmp_path / "wf", configs=(overlay,), check=False)
    assert proc.returncode != 0
    line = next(ln for ln in proc.stderr.splitlines() if ln.startswith("cropaudit: error:"))
    # the merged configuration's sources are named, then the field
    assert "params.yaml + " in line and "bad.yaml: sampling.n:" in line
    assert "greater than 0" in line
    assert not (tmp_path / "wf/results/pairs.parquet").exists()
    assert not (tmp_path / "wf/data").exists()


def test_config_overrides_reach_the_commands(tmp_path):
    """--config and --configfile are merged over params.yaml, and every command reads the
    merged file: a seed given on the command line is the seed the tuples were drawn with."""
    overlay = write_yaml(tmp_path / "small.yaml", {
        "croppers": ["center"], "dataset": {"demo": {"images_per_group": 3}},
        "sampling": {"n": 2}})
    root = tmp_path / "wf"
    snakemake(root, "results/pairs.parquet", "--config", "seed=3", configs=(overlay,))
    import pandas as pd
    import yaml

    written = yaml.safe_load((root / "results/config.yaml").read_text())
    assert written["seed"] == 3 and written["sampling"]["n"] == 2
    assert written["croppers"] == ["center"]
    pairs = pd.read_parquet(root / "results/pairs.parquet")
    assert pairs.groupby("comparison")["base_id"].nunique().max() == 2


# -- bounds on every size-like setting (issue 25, item 6) -------------------------------------


@pytest.mark.parametrize(("section", "fragment"), [
    # before: passed validation, then `stats` failed with "out of memory (try fewer images
    # per batch ...)", which points at the wrong cause
    ({"stats": {"bootstrap_resamples": 10**12}},
     "stats.bootstrap_resamples: Input should be less than or equal to 100000 "
     "(allowed: ≥ 0 and ≤ 100000)"),
    # before: accepted, switching the decompression-bomb guard off without a word
    ({"model": {"max_pixels": 10**14, "allow_large_images": True}},
     "model.max_pixels: Input should be less than or equal to 1000000000"),
    ({"model": {"max_pixels": 2 * 10**8}},
     "model.max_pixels: Value error, 200000000 is above the default 100000000: set "
     "model.allow_large_images: true"),
    ({"sampling": {"n": 10**7}}, "sampling.n: Input should be less than or equal to "
     "1000000 (allowed: > 0 and ≤ 1000000)"),
    ({"sampling": {"scaling_size": 10**6}}, "(allowed: ≥ 1 and ≤ 10000)"),
    ({"saliency": {"shards": 10**5}}, "saliency.shards: Input should be less than or equal "
     "to 10000 (allowed: ≥ 1 and ≤ 10000)"),
    ({"model": {"batch_size": 10**6}}, "model.batch_size: Input should be less than or equal "
     "to 1024 (allowed: ≥ 1 and ≤ 1024)"),
    ({"probes": {"tuples_per_comparison": 10**9}}, "(allowed: ≥ 1 and ≤ 100000)"),
    ({"faces": {"max_pixels": 10**12}}, "faces.max_pixels"),
    ({"app": {"max_upload_mb": 10**6}}, "app.max_upload_mb: Input should be less than or "
     "equal to 1024 (allowed: > 0 and ≤ 1024)"),
    ({"crops": {"aspect_ratios": [1.0] + [0.5 + i for i in range(30)]}},
     "crops.aspect_ratios: List should have at most 20 items"),
    ({"probes": {"padding": list(range(60))}}, "probes.padding: Value error, at most 50"),
    ({"dataset": {"wikiceleb": {"http": {"timeout_s": 10**9}}}},
     "dataset.wikiceleb.http.timeout_s: Input should be less than or equal to 600"),
])
def test_an_out_of_range_size_is_refused_at_validation_with_its_range(workspace, capsys,
                                                                       section, fragment):
    params = write_params(workspace / "p.yaml", **section)
    code = main(["sample-pairs", "--params", params, "--dataset", "data/demo/images.parquet",
                 "--out", "results/pairs.parquet"])
    assert code == 2
    one_line_error(capsys, "p.yaml: ", fragment)
    assert not (workspace / "results").exists()


def test_large_images_need_to_be_asked_for(workspace, capsys):
    params = parse_params({**DEMO, "croppers": ["center"], "model": {"max_pixels": 4 * 10**8,
                                             "allow_large_images": True}})
    assert params.model.max_pixels == 4 * 10**8
    code = main(["saliency", "--cropper", "center", "--max-pixels", str(2 * 10**8),
                 str(next((workspace / "data/demo/images").iterdir()))])
    assert code == 2
    one_line_error(capsys, "--max-pixels: Value error, 200000000 is above the default",
                   "model.allow_large_images: true")


@pytest.mark.parametrize(("argv", "fragment"), [
    (["--shards", "100000"], "--shards must be in 1..10000 (got 100000)"),
    (["--shards", "2", "--shard", "2"], "--shard must be in 0..1 (got 2)"),
])
def test_shard_flags_are_bounded(workspace, capsys, argv, fragment):
    params = write_params(workspace / "p.yaml", sampling={"n": 3})
    assert main(["sample-pairs", "--params", params, "--dataset", "data/demo/images.parquet",
                 "--out", "results/pairs.parquet"]) == 0
    capsys.readouterr()
    code = main(["pair-saliency", "--params", params, "--cropper", "center",
                 "--dataset", "data/demo/images.parquet",
                 "--pairs", "results/pairs.parquet", "--out", "results/shard.parquet", *argv])
    assert code == 2
    one_line_error(capsys, fragment)
    assert not (workspace / "results/shard.parquet").exists()


def test_aggregates_of_other_attributes_are_refused_when_params_are_read(workspace, capsys):
    """Listed, an aggregate of another attribute is refused by every command at start (and so
    before a workflow's first job), not by the stats stage after the saliency jobs; left
    unset, the defaults keep only what the attributes have (none here)."""
    assert parse_params(DEMO).stats.aggregates == []
    assert [a.name for a in parse_params({"dataset": {"groups": {"attributes": ["gender"]}}})
            .stats.aggregates] == ["gender"]
    params = write_params(workspace / "params.yaml", stats={"aggregates": [
        {"name": "race", "attribute": "race", "first": "black", "second": "white"}]})
    assert main(["sample-pairs", "--params", params, "--dataset", "data/demo/images.parquet",
                 "--out", "pairs.parquet"]) == 2
    one_line_error(capsys, "stats.aggregates.0.attribute: 'race' is not one of "
                   "dataset.groups.attributes ['feature', 'cohort']", "or [] for none")
    assert not (workspace / "pairs.parquet").exists()
