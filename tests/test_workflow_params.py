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
from cropaudit.project import deep_merge
from support.http import serve
from support.params_recorder import recording
from support.sources import SOURCES, source_params
from support.wikimedia import FakeWikimedia
from support.workflow import REPO_ROOT

TINY = {
    "croppers": ["center", "face-center"],
    "dataset": {"demo": {"images_per_group": 3}},
    "sampling": {"n": 3},
    "saliency": {"save_composites": True},
    "gaze": {"selection": "all", "review_per_value": 1},
    "stats": {"bootstrap_resamples": 20},
    "probes": {"tuples_per_comparison": 1, "padding": [0, 6], "gap": [], "order": ["swapped"],
               "layout": [], "scaling": [], "jpeg": [50], "grid": [1.0],
               "edits": {"images_per_group": 1, "luminance_steps": [0.1], "hue_steps": [],
                         "tone": [], "hair_lighten": [], "text": []}},
}
DATASET, PAIRS = "data/demo/images.parquet", "results/pairs.parquet"
C = "results/croppers/center"
SALIENCY, IMAGE_SALIENCY = f"{C}/saliency.parquet", f"{C}/image-saliency.parquet"
CROPS, IMAGE_CROPS, FACES = f"{C}/crops.parquet", f"{C}/image-crops.parquet", \
    "data/demo/faces.parquet"
LOAD_PARAMS = config.load_params
#: Every stage command of the workflow, in its order, with the arguments its rule gives it
#: (the cropper's own for the center baseline).
STAGES: list[tuple[str, list[str]]] = [
    ("fetch-model", ["--out", "models/model.vxm"]),
    ("prepare-data", ["--out", DATASET]),
    ("faces", ["--dataset", DATASET, "--out", FACES]),
    ("sample-pairs", ["--dataset", DATASET, "--out", PAIRS]),
    ("pair-saliency", ["--cropper", "center", "--dataset", DATASET, "--pairs", PAIRS,
                       "--shard", "0", "--shards", "1", "--composites-dir", f"{C}/composites",
                       "--out", f"{C}/s0.parquet"]),
    ("gather", ["--out", SALIENCY, f"{C}/s0.parquet"]),
    ("image-saliency", ["--cropper", "center", "--dataset", DATASET, "--out", IMAGE_SALIENCY]),
    ("score-crops", ["--outcomes", SALIENCY, "--dataset", DATASET, "--faces", FACES,
                     "--image-saliency", IMAGE_SALIENCY, "--out", CROPS,
                     "--image-crops-out", IMAGE_CROPS]),
    ("stats", ["--outcomes", SALIENCY, "--faces", FACES, "--dataset", DATASET, "--crops", CROPS,
               "--image-crops", IMAGE_CROPS, "--out-dir", f"{C}/stats",
               "--metrics", f"{C}/metrics.json"]),
    ("gaze", ["--dataset", DATASET, "--image-saliency", IMAGE_SALIENCY,
              "--image-crops", IMAGE_CROPS, "--out-dir", f"{C}/gaze",
              "--metrics", f"{C}/gaze-metrics.json"]),
    ("plots", ["--stats-dir", f"{C}/stats", "--outcomes", SALIENCY,
               "--out-dir", f"{C}/figures"]),
    ("probe", ["--cropper", "center", "--dataset", DATASET, "--pairs", PAIRS, "--faces", FACES,
               "--out", f"{C}/probes.parquet"]),
    ("probe-edits", ["--cropper", "center", "--dataset", DATASET, "--faces", FACES,
                     "--out", f"{C}/probe-edits.parquet"]),
    ("compare-croppers", ["--outcomes", f"center={SALIENCY}", f"again={SALIENCY}",
                          "--out-dir", "results/comparison",
                          "--metrics", "results/comparison.json"]),
    ("probe-stats", ["--tables", f"{C}/probes.parquet", "--edits", f"{C}/probe-edits.parquet",
                     "--out-dir", "results/probes", "--metrics", "results/probes.json"]),
    ("report", ["--stats-dir", f"{C}/stats", "--figures-dir", f"{C}/figures",
                "--crops", CROPS, "--dataset", DATASET, "--gaze-dir", f"{C}/gaze",
                "--croppers-dir", "results/comparison", "--probes-dir", "results/probes",
                "--out", "results/report.html"]),
    ("log-run", ["--dataset", DATASET, "--metrics", f"{C}/metrics.json",
                 f"{C}/gaze-metrics.json", "--stats-dir", f"{C}/stats",
                 "--figures-dir", f"{C}/figures", "--artifacts", f"{C}/gaze",
                 "--report", "results/report.html", "--out", "results/mlflow-run.json"]),
]
#: Commands that run a cropper read that cropper's own settings: the same commands again with
#: face-center, which also reads `faces:` (its spec says so). (command, cropper, arguments)
CROPPER_RUNS: list[tuple[str, str, list[str]]] = [
    ("pair-saliency", "face-center", ["--dataset", DATASET, "--pairs", PAIRS,
                                      "--cropper", "face-center",
                                      "--composites-dir", "results/fc-composites",
                                      "--out", "results/fc-saliency.parquet"]),
    ("image-saliency", "face-center", ["--dataset", DATASET, "--cropper", "face-center",
                                       "--out", "results/fc-image-saliency.parquet"]),
]
#: The cropper each command of STAGES runs (for its declaration).
CROPPER_OF = {"pair-saliency": "center", "image-saliency": "center", "probe": "center",
              "probe-edits": "center"}


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
        for command, cropper, args in CROPPER_RUNS:
            found[f"{command} {cropper}"] = run_recorded(mp, command, args)
        yield found


def check(command: str, read: set[str], params: config.Params, cropper: str | None = None
          ) -> None:
    declared = declared_params(command, params, cropper)
    undeclared = sorted(k for k in read if not covers(declared, k))
    assert not undeclared, f"{command} reads {undeclared} but declares only {declared}"
    if WHOLE_FILE not in declared:
        unread = [d for d in declared if not any(covers([d], k) or covers([k], d) for k in read)]
        assert not unread, f"{command} declares {unread} but never reads them"


@pytest.mark.slow
@pytest.mark.parametrize("command", [c for c, _ in STAGES])
def test_stage_reads_only_declared_params(reads: dict[str, set[str]], command: str) -> None:
    check(command, reads[command], parse_params(deep_merge(TINY, {})), CROPPER_OF.get(command))


@pytest.mark.slow
@pytest.mark.parametrize(("command", "cropper", "args"), CROPPER_RUNS)
def test_a_cropper_adds_only_its_own_settings(reads, command, cropper, args) -> None:
    read = reads[f"{command} {cropper}"]
    check(command, read, parse_params(deep_merge(TINY, {})), cropper)
    assert any(k.startswith("faces.") for k in read)  # face-center reads faces:
    assert not [k for k in reads[command] if k.startswith("faces.")]  # center does not


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
