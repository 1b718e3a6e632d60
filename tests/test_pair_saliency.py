"""Composites, winners, score statistics, sharding and gathering (center backend)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cropaudit.datasets.table import BASE_COLUMNS, write_table
from cropaudit.engine.center import CenterModel
from cropaudit.errors import InputFileError
from cropaudit.outputs import write_parquet
from cropaudit.stages.pair_saliency import (
    MemberImages,
    gather,
    render_tuple,
    run_shard,
    write_shard,
)
from cropaudit.stages.sample_pairs import SamplingParams, sample_pairs

COLOURS = {"wide": (200, 30, 30), "narrow": (30, 30, 200)}
SIZES = {"wide": (300, 120), "narrow": (100, 120)}


def make_dataset(root, per_group=3):
    rows = []
    (root / "images").mkdir(parents=True)
    for group, (w, h) in SIZES.items():
        for i in range(per_group):
            name = f"{group}{i}.png"
            Image.new("RGB", (w, h), COLOURS[group]).save(root / "images" / name)
            rows.append({c: "" for c in BASE_COLUMNS} | {
                "image_id": f"{group}{i}", "path": f"images/{name}", "width": w, "height": h,
                "sha256": f"{group}{i}", "group": group, "source": "folder"})
    table = pd.DataFrame(rows)
    write_table(table, root / "images.parquet")
    return table


@pytest.fixture
def setup(tmp_path):
    table = make_dataset(tmp_path)
    pairs = sample_pairs(table, SamplingParams(n=6, padding=4, background=(0, 255, 0)), seed=1)
    images = MemberImages(tmp_path / "images.parquet", table, max_pixels=10**8, cache_bytes=1 << 20)
    return tmp_path, table, pairs, images


def test_composite_pixels_follow_the_recorded_geometry(setup):
    _, _, pairs, images = setup
    t = pairs[pairs["tuple_id"] == 0].sort_values("position")
    canvas = render_tuple(t, images)
    assert canvas.shape == (t["composite_height"].iloc[0], t["composite_width"].iloc[0], 3)
    for r in t.itertuples():
        block = canvas[r.y:r.y + r.height, r.x:r.x + r.width]
        assert (block == COLOURS[r.group]).all()
    gap_x = int(t["x"].iloc[0] + t["width"].iloc[0])
    assert (canvas[:, gap_x:gap_x + 4] == (0, 255, 0)).all()


def test_center_baseline_always_picks_the_wide_member_in_either_position(setup):
    _, _, pairs, images = setup
    out = run_shard(pairs, images, CenterModel())
    winners = out[out["won"]]
    assert winners["tuple_id"].nunique() == pairs["tuple_id"].nunique()  # one winner each
    assert (winners["group"] == "wide").all()
    assert set(winners["position"]) == {0, 1}  # counterbalanced: it wins from both sides
    assert (out["score_max"] >= out["score_p95"]).all()
    assert (out["score_p95"] >= out["score_p50"]).all()
    for _, t in out.groupby("tuple_id"):
        assert t.loc[t["won"], "score_max"].iloc[0] == t["score_max"].max()


def test_shards_partition_the_tuples_and_gather_rejoins_them(setup, tmp_path):
    root, _, pairs, images = setup
    pairs_path = root / "pairs.parquet"
    write_parquet(pairs, pairs_path)
    whole = run_shard(pairs, images, CenterModel())
    paths = []
    for shard in range(3):
        part = run_shard(pairs, images, CenterModel(), shard=shard, shards=3)
        path = tmp_path / f"shard-{shard}.parquet"
        write_shard(part, path, shard=shard, shards=3, pairs_path=pairs_path,
                    n_tuples=pairs["tuple_id"].nunique())
        paths.append(path)
    gathered = gather(paths)
    pd.testing.assert_frame_equal(
        gathered[whole.columns].reset_index(drop=True), whole.reset_index(drop=True),
        check_dtype=False)
    with pytest.raises(InputFileError, match=r"missing shard\(s\) \[1\] of 3"):
        gather([paths[0], paths[2]])
    with pytest.raises(InputFileError, match="given twice"):
        gather([paths[0], paths[1], paths[1]])


def test_shards_from_another_pairs_table_are_refused(setup, tmp_path):
    _root, table, pairs, images = setup
    other = sample_pairs(table, SamplingParams(n=6), seed=2)
    paths = []
    for shard, (df, name) in enumerate(((pairs, "a"), (other, "b"))):
        p = tmp_path / f"pairs-{name}.parquet"
        write_parquet(df, p)
        out = tmp_path / f"s{shard}.parquet"
        write_shard(run_shard(df, images, CenterModel(), shard=shard, shards=2), out,
                    shard=shard, shards=2, pairs_path=p, n_tuples=df["tuple_id"].nunique())
        paths.append(out)
    with pytest.raises(InputFileError, match="different runs"):
        gather(paths)


def test_unreadable_image_is_named(setup):
    root, _, pairs, images = setup
    bad = pairs["image_id"].iloc[0]
    (root / "images" / f"{bad}.png").write_bytes(b"not an image at all")
    with pytest.raises(InputFileError, match=rf"{bad}\.png: not a recognised image"):
        run_shard(pairs, images, CenterModel())


def test_image_that_changed_size_since_prepare_data_is_refused(setup):
    root, _, pairs, images = setup
    bad = pairs["image_id"].iloc[0]
    Image.new("RGB", (10, 10)).save(root / "images" / f"{bad}.png")
    with pytest.raises(InputFileError, match="re-run `cropaudit prepare-data`"):
        run_shard(pairs, images, CenterModel())


def test_member_smaller_than_a_grid_cell_gets_no_scores(tmp_path):
    sizes = {"big": (3000, 400), "tiny": (4, 400)}
    rows = []
    (tmp_path / "images").mkdir()
    for g, (w, h) in sizes.items():
        Image.new("RGB", (w, h), (90, 90, 90)).save(tmp_path / "images" / f"{g}.png")
        rows.append({c: "" for c in BASE_COLUMNS} | {
            "image_id": g, "path": f"images/{g}.png", "width": w, "height": h, "group": g})
    table = pd.DataFrame(rows)
    write_table(table, tmp_path / "images.parquet")
    pairs = sample_pairs(table, SamplingParams(n=1, both_orders=False), seed=0)
    images = MemberImages(tmp_path / "images.parquet", table, max_pixels=10**8, cache_bytes=0)
    out = run_shard(pairs, images, CenterModel()).set_index("group")
    assert out.at["tiny", "n_cells"] == 0 and np.isnan(out.at["tiny", "score_max"])
    assert out.at["big", "n_cells"] > 0 and bool(out.at["big", "won"])


def test_composites_are_saved_on_request(setup, tmp_path):
    _, _, pairs, images = setup
    out_dir = tmp_path / "composites"
    out_dir.mkdir()
    out = run_shard(pairs, images, CenterModel(), shard=1, shards=2, composites_dir=out_dir)
    saved = sorted(out_dir.glob("tuple-*.jpg"))
    assert len(saved) == out["tuple_id"].nunique()
    first = out[out["tuple_id"] == out["tuple_id"].min()].iloc[0]
    with Image.open(out_dir / f"tuple-{int(first['tuple_id']):07d}.jpg") as img:
        assert img.size == (first["composite_width"], first["composite_height"])
