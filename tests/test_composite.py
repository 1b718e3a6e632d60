"""One decoder, one composite renderer, one member scorer: the pipeline and the app agree.

Members of a composite must be exactly the single-image decoder's pixels
(:func:`decode_upright`: EXIF orientation from JPEG EXIF only, alpha 0 → white, other pixels
keep their RGB) placed at the geometry the pairs table recorded, whether the composite is
built by the pair-saliency stage or by the app's pair mode.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cropaudit.app.analysis import Analyzer, ModelRegistry, ResultCache
from cropaudit.app.images import ImageStore
from cropaudit.datasets.table import BASE_COLUMNS, write_table
from cropaudit.datasets.validate import inspect_image
from cropaudit.engine.center import CenterModel
from cropaudit.engine.model_store import ModelParams
from cropaudit.imaging.upright import decode_upright
from cropaudit.stages.pair_saliency import MemberImages, render_tuple, run_shard
from cropaudit.stages.sample_pairs import SamplingParams, sample_pairs

BIG = 10**9
ORIENTATION_TAG = 0x0112
#: The partly transparent PNG's special pixels: (row, col) -> RGBA.
TRANSPARENT_PIXELS = {(0, 0): (10, 20, 30, 0), (1, 1): (0, 0, 0, 128), (2, 2): (200, 50, 50, 255)}


def _exif(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    return exif.tobytes()


def _pattern(width: int, height: int, seed: int) -> Image.Image:
    """Asymmetric pixels, so any rotation or flip shows."""
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def write_images(folder) -> dict[str, str]:
    """image_id -> file name: EXIF-tagged JPEG/PNG/WebP and a partly transparent PNG."""
    folder.mkdir(parents=True)
    _pattern(40, 20, 1).save(folder / "jpeg6.jpg", quality=95, exif=_exif(6))
    _pattern(40, 20, 2).save(folder / "png6.png", exif=_exif(6))
    _pattern(36, 24, 3).save(folder / "webp8.webp", lossless=True, exif=_exif(8))
    rgba = np.dstack([np.asarray(_pattern(30, 30, 4)), np.full((30, 30), 255, np.uint8)])
    for (r, c), value in TRANSPARENT_PIXELS.items():
        rgba[r, c] = value
    Image.fromarray(rgba, "RGBA").save(folder / "alpha.png")
    return {"jpeg6": "jpeg6.jpg", "png6": "png6.png", "webp8": "webp8.webp", "alpha": "alpha.png"}


@pytest.fixture
def dataset(tmp_path):
    """A dataset table whose sizes come from prepare-data's inspection, one group per image."""
    files = write_images(tmp_path / "images")
    rows = []
    for image_id, name in files.items():
        info = inspect_image(tmp_path / "images" / name, BIG)
        rows.append({c: "" for c in BASE_COLUMNS} | {
            "image_id": image_id, "path": f"images/{name}", "width": info.width,
            "height": info.height, "sha256": info.sha256, "group": image_id, "source": "folder"})
    table = pd.DataFrame(rows)
    write_table(table, tmp_path / "images.parquet")
    return tmp_path, table


def upright(root, table, image_id) -> np.ndarray:
    name = table.set_index("image_id").at[image_id, "path"]
    return decode_upright(root / name, name, max_pixels=BIG, hard_limit=BIG).rgb


def test_decoder_rules_for_the_test_images(dataset):
    root, table = dataset
    assert upright(root, table, "jpeg6").shape[:2] == (40, 20)  # JPEG EXIF 6: rotated
    assert upright(root, table, "png6").shape[:2] == (20, 40)  # PNG EXIF ignored (original)
    assert upright(root, table, "webp8").shape[:2] == (24, 36)  # WebP EXIF ignored
    alpha = upright(root, table, "alpha")
    assert tuple(alpha[0, 0]) == (255, 255, 255)  # alpha 0 -> white
    assert tuple(alpha[1, 1]) == (0, 0, 0)  # alpha 128 keeps its RGB, no blending
    assert tuple(alpha[2, 2]) == (200, 50, 50)


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 255, 0)])
def test_pipeline_composite_members_are_the_decoders_pixels(dataset, background):
    root, table = dataset
    pairs = sample_pairs(
        table, SamplingParams(n=2, padding=3, background=background), seed=5
    )
    images = MemberImages(root / "images.parquet", table, max_pixels=BIG, cache_bytes=1 << 20)
    seen = set()
    for _, t in pairs.groupby("tuple_id"):
        t = t.sort_values("position")
        canvas = render_tuple(t, images)
        covered = np.zeros(canvas.shape[:2], bool)
        for r in t.itertuples():
            block = canvas[r.y:r.y + r.height, r.x:r.x + r.width]
            assert np.array_equal(block, upright(root, table, r.image_id)), r.image_id
            covered[r.y:r.y + r.height, r.x:r.x + r.width] = True
            seen.add(r.image_id)
        assert (canvas[~covered] == background).all()  # padding and empty areas
    assert seen == set(table["image_id"])


def test_scaled_members_are_the_decoders_pixels_resized(dataset):
    root, table = dataset
    pairs = sample_pairs(table, SamplingParams(n=1, scaling="fixed_height", scaling_size=50),
                         seed=5)
    images = MemberImages(root / "images.parquet", table, max_pixels=BIG, cache_bytes=0)
    t = pairs[pairs["tuple_id"] == 0].sort_values("position")
    canvas = render_tuple(t, images)
    for r in t.itertuples():
        assert r.height == 50
        expected = Image.fromarray(upright(root, table, r.image_id)).resize(
            (r.width, r.height), Image.Resampling.LANCZOS)
        assert np.array_equal(canvas[r.y:r.y + r.height, r.x:r.x + r.width], expected)


def test_app_pair_mode_renders_and_scores_as_the_pipeline(dataset, tmp_path):
    root, table = dataset
    pairs = sample_pairs(table, SamplingParams(n=2, padding=5, pairs="none"), seed=3)
    images = MemberImages(root / "images.parquet", table, max_pixels=BIG, cache_bytes=1 << 20)
    outcomes = run_shard(pairs, images, CenterModel())
    store = ImageStore(BIG, BIG, root=tmp_path)
    try:
        analyzer = Analyzer(store, ModelRegistry(ModelParams()), ResultCache(8))
        by_id = {i: store.add_file(root / p, i).key for i, p in zip(table["image_id"],
                                                                   table["path"], strict=True)}
        for _, t in outcomes.groupby("tuple_id"):
            t = t.sort_values("position")
            pair = analyzer.analyse_pair([by_id[i] for i in t["image_id"]], "center", padding=5)
            assert np.array_equal(pair.composite, render_tuple(t, images))
            assert [m.won for m in pair.members] == t["won"].tolist()
            assert [m.score_max for m in pair.members] == t["score_max"].tolist()
            assert [m.score_mean for m in pair.members] == t["score_mean"].tolist()
            assert [(m.x, m.y, m.width, m.height) for m in pair.members] == list(
                zip(t["x"], t["y"], t["width"], t["height"], strict=True))
    finally:
        store.close()


def test_png_tagged_orientation_6_runs_through_the_stage(dataset):
    """Used to fail with "re-run prepare-data": the table said 40x20, the loader 20x40."""
    root, table = dataset
    pairs = sample_pairs(table, SamplingParams(n=1, groups=["png6", "jpeg6"]), seed=0)
    images = MemberImages(root / "images.parquet", table, max_pixels=BIG, cache_bytes=0)
    out = run_shard(pairs, images, CenterModel())
    assert set(out["image_id"]) == {"png6", "jpeg6"}
    assert out.groupby("tuple_id")["won"].sum().eq(1).all()
