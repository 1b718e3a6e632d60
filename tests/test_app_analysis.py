"""The app's computations: pair geometry, heat-map upsampling, top-k, cache, models."""

from __future__ import annotations

import numpy as np
import pytest

from cropaudit.app.analysis import (
    Analyzer,
    ModelRegistry,
    ResultCache,
    crop_labels,
    top_points,
)
from cropaudit.app.images import ImageStore
from cropaudit.engine.center import CenterModel
from cropaudit.engine.loader import load_model
from cropaudit.engine.maps import upsample_scores
from cropaudit.engine.model_store import ModelParams
from cropaudit.engine.types import SaliencyResult
from cropaudit.errors import CropauditError, ModelFileError
from cropaudit.geometry.placement import compose
from cropaudit.imaging.composite import render_composite
from support.app_images import astronaut, chelsea, coffee, encode

BIG = 10**9

# -- pair geometry -------------------------------------------------------------------------------


def test_horizontal_composite_places_members_left_to_right():
    g = compose([(451, 300), (512, 512)], layout="horizontal", padding=10)
    assert (g.width, g.height) == (451 + 10 + 512, 512)
    assert [p.x for p in g.placements] == [0, 461]
    assert all(p.y == 0 for p in g.placements)


def test_vertical_composite_with_fixed_height_scaling():
    g = compose([(451, 300), (512, 512)], layout="vertical", scaling="fixed_height",
                scaling_size=200, padding=4)
    assert [(p.width, p.height) for p in g.placements] == [(301, 200), (200, 200)]
    assert [p.y for p in g.placements] == [0, 204]
    assert (g.width, g.height) == (301, 404)
    assert g.placements[0].scale == pytest.approx(200 / 300)


def test_max_side_scaling_fits_the_longer_side():
    g = compose([(451, 300), (300, 600)], scaling="max_side", scaling_size=100)
    assert [(p.width, p.height) for p in g.placements] == [(100, 67), (50, 100)]


def test_member_at_gives_padding_to_the_nearest_member():
    g = compose([(100, 50), (100, 80)], padding=20)
    assert g.member_at(99, 10) == 0
    assert g.member_at(105, 10) == 0  # in the gap, nearer the first
    assert g.member_at(115, 10) == 1
    assert g.member_at(50, 70) in (0, 1)  # below the shorter member: nearest wins
    assert g.member_at(50, 70) == 0  # distance 20 vs 70


def test_bad_geometry_is_refused():
    with pytest.raises(ValueError, match="padding"):
        compose([(10, 10)], padding=-1)
    with pytest.raises(ValueError, match="scaling size"):
        compose([(10, 10)], scaling="max_side", scaling_size=0)


def test_render_composite_puts_pixels_where_the_geometry_says():
    a, b = chelsea(), astronaut()
    g = compose([(451, 300), (512, 512)], padding=6)
    out = render_composite([a, b], g)
    assert out.shape == (512, 969, 3)
    assert np.array_equal(out[:300, :451], a)
    assert np.array_equal(out[:, 457:], b)
    assert (out[:, 451:457] == 255).all()  # padding
    assert (out[300:, :451] == 255).all()  # beside the shorter member


# -- heat map and points -------------------------------------------------------------------------


def _result(scores: np.ndarray, width: int, height: int) -> SaliencyResult:
    """A result on the real grid of a ``width`` × ``height`` image."""
    base = CenterModel().result_for_size(width, height, "test")
    assert base.scores.shape == scores.shape
    return SaliencyResult("test", width, height, base.grid_x, base.grid_y,
                          scores.astype(np.float32), (0, 0), model="test")


def test_upsampling_reproduces_a_linear_map_and_clamps_beyond_the_cells():
    base = CenterModel().result_for_size(640, 480, "x")
    scores = 0.01 * base.grid_x + 0.02 * base.grid_y
    up = upsample_scores(_result(scores, 640, 480), 640, 480)
    assert up.shape == (480, 640)
    ys, xs = np.mgrid[0:480, 0:640] + 0.5
    xs = np.clip(xs, base.grid_x.min(), base.grid_x.max())
    ys = np.clip(ys, base.grid_y.min(), base.grid_y.max())
    assert np.abs(up - (0.01 * xs + 0.02 * ys)).max() < 1e-4


def test_upsampling_is_smooth_and_bounded():
    rng = np.random.default_rng(0)
    base = CenterModel().result_for_size(451, 300, "x")
    scores = rng.normal(size=base.scores.shape)
    r = _result(scores, 451, 300)
    up = upsample_scores(r, 451, 300)
    assert up.min() >= scores.min() - 1e-6 and up.max() <= scores.max() + 1e-6
    # neighbouring pixels differ far less than neighbouring cells (~20 px apart)
    cell_step = np.abs(np.diff(scores, axis=1)).max()
    assert np.abs(np.diff(up, axis=1)).max() < cell_step / 4
    # a display-size raster samples the same surface
    small = upsample_scores(r, 226, 150)
    cols = ((np.arange(226) + 0.5) * 451 / 226).astype(int)
    rows = ((np.arange(150) + 0.5) * 300 / 150).astype(int)
    assert np.abs(small - up[np.ix_(rows, cols)]).mean() < 0.05


def test_upsampling_handles_a_single_row_grid():
    base = CenterModel().result_for_size(2000, 40, "x")
    assert base.scores.shape[0] == 1
    up = upsample_scores(_result(base.scores, 2000, 40), 500, 10)
    assert up.shape == (10, 500)
    assert np.allclose(up[0], up[-1])  # constant across the single row


def test_top_points_are_the_highest_cells_best_first():
    base = CenterModel().result_for_size(320, 320, "x")
    rng = np.random.default_rng(1)
    scores = rng.permutation(base.scores.size).reshape(base.scores.shape).astype(np.float32)
    r = _result(scores, 320, 320)
    top = top_points(r, 5)
    assert [p.rank for p in top] == [1, 2, 3, 4, 5]
    assert [p.score for p in top] == sorted(scores.ravel(), reverse=True)[:5]
    for p in top:
        rows, cols = np.nonzero(scores == p.score)
        assert (p.x, p.y) == (r.grid_x[rows[0], cols[0]], r.grid_y[rows[0], cols[0]])
    assert len(top_points(r, 10_000)) == scores.size
    assert top_points(r, 0) == []


def test_crop_labels_name_the_image_own_ratio():
    r = CenterModel().result_for_size(512, 512, "square")
    assert crop_labels(r.crops()) == ["0.56", "1", "1.14", "2", "own 1"]


# -- cache and models ----------------------------------------------------------------------------


def test_cache_is_bounded_and_least_recently_used():
    cache = ResultCache(2)
    r = CenterModel().result_for_size(10, 10, "x")
    cache.put(("m", "a"), r)
    cache.put(("m", "b"), r)
    assert cache.get(("m", "a")) is r  # a is now the most recent
    cache.put(("m", "c"), r)
    assert len(cache) == 2
    assert ("m", "b") not in cache and ("m", "a") in cache and ("m", "c") in cache


def test_missing_fastgaze_file_is_a_model_file_error(tmp_path, monkeypatch):
    monkeypatch.delenv("CROPAUDIT_FASTGAZE", raising=False)
    params = ModelParams(path=str(tmp_path / "nowhere.vxm"))
    models = ModelRegistry(params)
    usable, status = models.status("fastgaze")
    assert not usable and "fetch-model" in status
    with pytest.raises(ModelFileError, match=r"nowhere\.vxm"):
        models.get("fastgaze")
    assert models.status("center") == (True, "no model file needed")


def test_corrupt_model_file_is_a_one_line_error(tmp_path):
    bad = tmp_path / "fastgaze.vxm"
    bad.write_bytes(b"this is not a model" * 10)
    with pytest.raises(CropauditError) as info:
        ModelRegistry(ModelParams(), bad).get("fastgaze")
    assert "\n" not in str(info.value)


@pytest.fixture
def center_analyzer(tmp_path):
    store = ImageStore(BIG, BIG, root=tmp_path)
    yield Analyzer(store, ModelRegistry(ModelParams()), ResultCache(8))
    store.close()


def test_results_are_cached_per_image_hash_and_backend(center_analyzer):
    rec = center_analyzer.store.add_bytes(encode(coffee()), "coffee.png")
    first = center_analyzer.analyse(rec.key, "center", top_k=3)
    second = center_analyzer.analyse(rec.key, "center", top_k=7)
    assert not first.cached and second.cached
    assert second.result is first.result
    assert len(second.top) == 7  # top-k is drawn from the cached result
    assert center_analyzer.cache.hits == 1 and len(center_analyzer.cache) == 1


def test_rotated_jpeg_is_shown_in_the_frame_the_model_reports(center_analyzer):
    import io

    from PIL import Image

    exif = Image.Exif()
    exif[0x0112] = 8
    buf = io.BytesIO()
    Image.fromarray(chelsea()).save(buf, "JPEG", quality=92, exif=exif)
    rec = center_analyzer.store.add_bytes(buf.getvalue(), "portrait.jpg")
    assert (rec.width, rec.height) == (300, 451)
    a = center_analyzer.analyse(rec.key, "center")
    assert (a.result.width, a.result.height) == (300, 451)
    assert center_analyzer.store.pixels(rec.key).shape == (451, 300, 3)


def test_pair_outcome_is_consistent(center_analyzer):
    store = center_analyzer.store
    keys = [store.add_bytes(encode(chelsea()), "cat.png").key,
            store.add_bytes(encode(coffee()), "coffee.png").key,
            store.add_bytes(encode(astronaut()), "astronaut.png").key]
    pair = center_analyzer.analyse_pair(keys, "center", layout="vertical", padding=8)
    assert pair.composite.shape == (300 + 400 + 512 + 16, 600, 3)
    winners = [m for m in pair.members if m.won]
    assert len(winners) == 1
    w = winners[0]
    sx, sy = pair.result.salient_point
    assert w.x <= sx < w.x + w.width and w.y <= sy < w.y + w.height
    # the salient point is the global maximum, so the winner holds the highest score
    assert w.score_max == pytest.approx(float(pair.result.scores.max()))
    assert pair.margin >= 0
    others = [m.score_max for m in pair.members if not m.won]
    assert pair.margin == pytest.approx(w.score_max - max(others))
    with pytest.raises(CropauditError, match="at least two"):
        center_analyzer.analyse_pair(keys[:1], "center")


def test_app_sees_a_file_exactly_as_the_engine_does(tmp_path, fastgaze_path):
    """Images within the limit are analysed from their bytes: same numbers as the CLI."""
    store = ImageStore(BIG, BIG, root=tmp_path)
    payload = encode(chelsea(), "JPEG", quality=90)
    rec = store.add_bytes(payload, "cat.jpg")
    analyzer = Analyzer(store, ModelRegistry(ModelParams(), fastgaze_path), ResultCache(4))
    ours = analyzer.analyse(rec.key, "fastgaze").result
    path = tmp_path / "cat.jpg"
    path.write_bytes(payload)
    engine = load_model(ModelParams(), fastgaze_path)
    theirs = next(iter(engine.predict([path])))
    assert ours.salient_point == theirs.salient_point
    assert np.array_equal(ours.scores, theirs.scores)
    assert [c.as_tuple() for c in ours.crops()] == [c.as_tuple() for c in theirs.crops()]
    store.close()
