"""Batch inference: order, failures, arrays, and equality with one-at-a-time inference."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cropaudit.engine.center import CenterModel
from cropaudit.engine.loader import load_model
from cropaudit.engine.model_store import ModelParams
from cropaudit.engine.types import ImageFailure, SaliencyResult
from cropaudit.geometry.grid import fit_size


@pytest.fixture(scope="module")
def model(fastgaze_path):
    return load_model(ModelParams(batch_size=4), fastgaze_path)


def _images(tmp_path, sizes):
    rng = np.random.default_rng(3)
    paths = []
    for i, (w, h) in enumerate(sizes):
        arr = rng.integers(0, 255, size=(h, w, 3), dtype=np.uint8)
        arr[h // 3 : h // 2, w // 4 : w // 3] = 250
        p = tmp_path / f"img{i}.png"
        Image.fromarray(arr).save(p)
        paths.append(p)
    return paths


def test_batched_results_equal_single_image_runs(model, tmp_path) -> None:
    # several shapes, some repeated (run unpadded together), some alone (padded buckets)
    sizes = [(640, 427), (640, 427), (300, 300), (200, 500), (640, 427), (333, 777),
             (1000, 700), (640, 427), (90, 60), (640, 427)]
    paths = _images(tmp_path, sizes)
    batched = list(model.predict(paths))
    assert [r.source for r in batched] == [str(p) for p in paths]
    for path, res in zip(paths, batched, strict=True):
        single = next(model.predict([path]))
        assert isinstance(res, SaliencyResult) and isinstance(single, SaliencyResult)
        assert res.salient_point == single.salient_point
        np.testing.assert_allclose(res.scores, single.scores, atol=1e-5)
        assert res.scores.shape == tuple(-(-d // 16) for d in fit_size(res.width, res.height)[::-1])


def test_failures_keep_their_place_in_the_order(model, tmp_path) -> None:
    good = _images(tmp_path, [(120, 80), (80, 120)])
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG garbage")
    out = list(model.predict([good[0], bad, good[1]]))
    assert [type(r) for r in out] == [SaliencyResult, ImageFailure, SaliencyResult]
    assert "bad.png" in out[1].message


def test_arrays_are_accepted_and_named(model) -> None:
    rng = np.random.default_rng(9)
    arrays = [rng.integers(0, 255, size=(50 + 10 * i, 80, 3), dtype=np.uint8) for i in range(3)]
    out = list(model.predict(arrays, sources=["a", "b", "c"]))
    assert [r.source for r in out] == ["a", "b", "c"]
    assert all(isinstance(r, SaliencyResult) for r in out)
    wrong = list(model.predict([np.zeros((5, 5), np.uint8)]))
    assert isinstance(wrong[0], ImageFailure) and "H×W×3" in wrong[0].message


def test_gaussian_layer_is_optional_and_smooths(fastgaze_path, tmp_path) -> None:
    path = _images(tmp_path, [(320, 320)])[0]
    raw = next(load_model(ModelParams(), fastgaze_path).predict([path]))
    blurred = next(load_model(ModelParams(apply_gaussian=True), fastgaze_path).predict([path]))
    assert raw.scores.shape == blurred.scores.shape
    # a 19×19 Gaussian (σ = 3 cells) averages neighbours: the map varies less
    roughness = [np.abs(np.diff(r.scores, axis=1)).mean() for r in (blurred, raw)]
    assert roughness[0] < roughness[1]


def test_center_baseline_uses_the_same_grid(fastgaze_path, tmp_path) -> None:
    path = _images(tmp_path, [(500, 300)])[0]
    fg = next(load_model(ModelParams(), fastgaze_path).predict([path]))
    center = next(CenterModel().predict([path]))
    np.testing.assert_array_equal(fg.grid_x, center.grid_x)
    np.testing.assert_array_equal(fg.grid_y, center.grid_y)
    assert center.model == "center"
    cx, cy = center.salient_point
    assert abs(cx - 250) <= 16 and abs(cy - 150) <= 16
