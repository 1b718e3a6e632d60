"""Each stage command declares the params.yaml keys it reads (its module's PARAMS), and the
workflow reruns it on exactly those. Here every stage command runs on a small demo with a
params object that records each key read: what it reads must be declared, and what it declares
must be read."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from cropaudit import config
from cropaudit.cli import main
from cropaudit.commands.declared import WHOLE_FILE, covers, declared_params
from cropaudit.config import parse_params
from support.http import serve
from support.params_recorder import recording
from support.sources import SOURCES, source_params
from support.wikimedia import FakeWikimedia
from support.workflow import REPO_ROOT, deep_merge

TINY = {
    "model": {"backend": "center"},
    "dataset": {"demo": {"images_per_group": 3}},
    "sampling": {"n": 3},
    "saliency": {"save_composites": True},
    "gaze": {"selection": "all", "review_per_value": 1},
    "stats": {"bootstrap_resamples": 20},
}
DATASET, PAIRS = "data/demo/images.parquet", "results/pairs.parquet"
SALIENCY, IMAGE_SALIENCY = "results/saliency.parquet", "results/image-saliency.parquet"
CROPS, IMAGE_CROPS, FACES = "results/crops.parquet", "results/image-crops.parquet", \
    "data/demo/faces.parquet"
LOAD_PARAMS = config.load_params
#: Every stage command of the workflow, in its order, with the arguments its rule gives it.
STAGES: list[tuple[str, list[str]]] = [
    ("fetch-model", ["--out", "models/model.vxm"]),
    ("prepare-data", ["--out", DATASET]),
    ("faces", ["--dataset", DATASET, "--out", FACES]),
    ("sample-pairs", ["--dataset", DATASET, "--out", PAIRS]),
    ("pair-saliency", ["--dataset", DATASET, "--pairs", PAIRS, "--shard", "0", "--shards", "1",
                       "--composites-dir", "results/composites", "--out", "results/s0.parquet"]),
    ("gather", ["--out", SALIENCY, "results/s0.parquet"]),
    ("image-saliency", ["--dataset", DATASET, "--out", IMAGE_SALIENCY]),
    ("score-crops", ["--outcomes", SALIENCY, "--dataset", DATASET, "--faces", FACES,
                     "--image-saliency", IMAGE_SALIENCY, "--out", CROPS,
                     "--image-crops-out", IMAGE_CROPS]),
    ("stats", ["--outcomes", SALIENCY, "--faces", FACES, "--dataset", DATASET, "--crops", CROPS,
               "--image-crops", IMAGE_CROPS, "--out-dir", "results/stats",
               "--metrics", "results/metrics.json"]),
    ("gaze", ["--dataset", DATASET, "--image-saliency", IMAGE_SALIENCY,
              "--image-crops", IMAGE_CROPS, "--out-dir", "results/gaze",
              "--metrics", "results/gaze-metrics.json"]),
    ("plots", ["--stats-dir", "results/stats", "--outcomes", SALIENCY,
               "--out-dir", "results/figures"]),
    ("report", ["--stats-dir", "results/stats", "--figures-dir", "results/figures",
                "--crops", CROPS, "--dataset", DATASET, "--gaze-dir", "results/gaze",
                "--out", "results/report.html"]),
    ("log-run", ["--dataset", DATASET, "--metrics", "results/metrics.json",
                 "results/gaze-metrics.json", "--stats-dir", "results/stats",
                 "--figures-dir", "results/figures", "--artifacts", "results/gaze",
                 "--report", "results/report.html", "--out", "results/mlflow-run.json"]),
]
#: The saliency commands run whichever cropper the workflow names (`--cropper`), and their
#: one declaration covers them all: face-center also reads the `faces:` settings. These runs
#: add to what the command read above (the center baseline).
CROPPER_RUNS: list[tuple[str, list[str]]] = [
    ("pair-saliency", ["--dataset", DATASET, "--pairs", PAIRS, "--cropper", "face-center",
                       "--composites-dir", "results/face-center-composites",
                       "--out", "results/face-center-saliency.parquet"]),
    ("image-saliency", ["--dataset", DATASET, "--cropper", "face-center",
                        "--out", "results/face-center-image-saliency.parquet"]),
]


def run_recorded(mp: pytest.MonkeyPatch, command: str, args: list[str]) -> set[str]:
    """Run one command in-process; the params keys it read."""
    reads: set[str] = set()
    mp.setattr(config, "load_params", lambda path=None: recording(LOAD_PARAMS(path), reads))
    takes_params = command != "gather"
    assert main([command, *(["--params", "params.yaml"] if takes_params else []), *args]) == 0
    return reads


def write_params(root: Path, overrides: dict[str, Any]) -> dict[str, Any]:
    base = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params = deep_merge(base, overrides)
    (root / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")
    return params


@pytest.fixture(scope="module")
def reads(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, set[str]]]:
    root = tmp_path_factory.mktemp("recorded")
    # fetch-model downloads a stand-in model file (it only verifies its digest) from loopback
    model = b"stand-in model file: fetch-model only downloads and verifies it"
    routes = {"/model.vxm": lambda path, n: (200, {}, model)}
    found: dict[str, set[str]] = {}
    with serve(routes) as (base, _), pytest.MonkeyPatch.context() as mp:
        write_params(root, deep_merge(TINY, {"model": {
            "url": f"{base}/model.vxm", "local_path": None,
            "sha256": hashlib.sha256(model).hexdigest()}}))
        mp.chdir(root)
        mp.delenv("CROPAUDIT_FASTGAZE", raising=False)
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        for command, args in STAGES:
            found[command] = run_recorded(mp, command, args)
        for command, args in CROPPER_RUNS:
            found[command] |= run_recorded(mp, command, args)
        yield found


def check(command: str, read: set[str], params: config.Params) -> None:
    declared = declared_params(command, params)
    undeclared = sorted(k for k in read if not covers(declared, k))
    assert not undeclared, f"{command} reads {undeclared} but declares only {declared}"
    if WHOLE_FILE not in declared:
        unread = [d for d in declared if not any(covers([d], k) or covers([k], d) for k in read)]
        assert not unread, f"{command} declares {unread} but never reads them"


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c, _ in STAGES])
def test_stage_reads_only_declared_params(reads: dict[str, set[str]], command: str) -> None:
    check(command, reads[command], parse_params(deep_merge(TINY, {})))


@pytest.mark.slow
def test_faces_and_gaze_declare_the_model_pixel_limit(reads: dict[str, set[str]]) -> None:
    # the bug this declaration fixed: both read model.max_pixels, the faces rule tracked faces
    assert "model.max_pixels" in reads["faces"]
    assert "model.max_pixels" in reads["gaze"]


@pytest.mark.parametrize("kind", SOURCES)
def test_prepare_data_reads_only_its_own_source_section(
    kind: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_wikimedia: FakeWikimedia
) -> None:
    overrides = source_params(kind, tmp_path / "collection", per_group=2, fake=fake_wikimedia)
    params = parse_params(write_params(tmp_path, overrides))
    monkeypatch.chdir(tmp_path)
    read = run_recorded(monkeypatch, "prepare-data", ["--out", "data/x/images.parquet"])
    check("prepare-data", read, params)
    section = params.dataset.source_section
    assert any(k.startswith(f"dataset.{section}.") for k in read)
    others = {"demo", "wikiceleb", "manifest"} - {section}
    assert not [k for k in read if k.split(".")[:2] in ([["dataset", o] for o in others])]


def test_recorder_sees_nested_reads_and_whole_sections() -> None:
    read: set[str] = set()
    params = recording(parse_params({}), read)
    assert isinstance(params, config.Params)
    assert params.faces.min_confidence == 0.9
    assert read == {"faces.min_confidence"}
    params.stats.model_dump()
    assert "stats" in read
    with pytest.raises(AssertionError, match=r"reads \['faces.min_confidence'\]"):
        check("gather", {"faces.min_confidence"}, params)
