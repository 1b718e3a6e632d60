"""Probes: composition settings, soft outcomes, statistics and their known answers.

Light croppers (``center``, ``opencv-spectral``) on tiny generated images; the demo's planted
effect under FastGaze is the one slow test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cropaudit.config import parse_params
from cropaudit.croppers.registry import load_cropper
from cropaudit.datasets.table import BASE_COLUMNS, write_table
from cropaudit.engine.types import SaliencyResult
from cropaudit.errors import ConfigError
from cropaudit.faces.geometry import Box
from cropaudit.geometry.grid import fit_size, grid_coordinates, salient_point
from cropaudit.geometry.placement import compose
from cropaudit.probes.edits import Edit, apply_edit, edits_of, hair_box, select_images
from cropaudit.probes.params import EditsParams, ProbesParams
from cropaudit.probes.recompose import (
    BASELINE,
    ProbeSetting,
    dataset_sizes,
    probe_pairs,
    settings_of,
    subsample,
)
from cropaudit.probes.runner import run_edits, run_probe, run_setting, setting_values
from cropaudit.probes.soft import soft_outcomes
from cropaudit.stages.pair_saliency import MemberImages, geometry_of
from cropaudit.stages.sample_pairs import SamplingParams, sample_pairs
from cropaudit.stats import probes as sp
from cropaudit.stats.edits import edit_table


def make_dataset(root, per_group=4, seed=3):
    """Textured images of random sizes in groups a and b (one face box each, in faces)."""
    rng = np.random.default_rng(seed)
    (root / "images").mkdir(parents=True)
    rows, faces = [], []
    for group in ("a", "b"):
        for i in range(per_group):
            w, h = (int(v) for v in rng.integers(60, 160, size=2))
            pixels = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
            name = f"{group}{i}.png"
            Image.fromarray(pixels).save(root / "images" / name)
            rows.append({c: "" for c in BASE_COLUMNS} | {
                "image_id": f"{group}{i}", "path": f"images/{name}", "width": w, "height": h,
                "sha256": f"{group}{i}", "group": group, "source": "folder"})
            faces.append({"image_id": f"{group}{i}", "primary": True, "x": w / 4, "y": h / 3,
                          "width": w / 2, "height": h / 3})
    table = pd.DataFrame(rows)
    write_table(table, root / "images.parquet")
    return table, pd.DataFrame(faces)


@pytest.fixture
def data(tmp_path):
    table, faces = make_dataset(tmp_path)
    pairs = sample_pairs(table, SamplingParams(n=6), seed=1)
    images = MemberImages(tmp_path / "images.parquet", table, max_pixels=10**8,
                          cache_bytes=1 << 22)
    return table, faces, pairs, images


def probe(sub, table, images, cropper, params, kinds, faces=None):
    sizes = dataset_sizes(table)
    base = setting_values(run_setting(sub, BASELINE, cropper=cropper, images=images,
                                      sizes=sizes, params=params), [BASELINE])
    frames = [base]
    for kind in kinds:
        settings = settings_of(params, kind)
        frames.append(setting_values(run_probe(
            sub, settings, cropper=cropper, images=images, sizes=sizes, params=params,
            aspect_ratios=[0.56, 1.0, 2.0], faces=faces, baseline=base), settings))
    return pd.concat(frames, ignore_index=True)


# --- params -----------------------------------------------------------------------------


def test_probes_section_defaults_are_the_published_settings():
    p = parse_params({}).probes
    assert p.padding == [0, 6, 13, 19, 26, 31]
    assert p.kinds() == ["padding", "gap", "order", "layout", "scaling", "jpeg", "grid"]
    assert len([s for s in p.edits.luminance_steps if s < 0]) >= 5
    assert len([s for s in p.edits.hue_steps if s > 0]) >= 5


@pytest.mark.parametrize(("section", "message"), [
    ({"jpeg": [0]}, "probes.jpeg"),
    ({"padding": [6, 6]}, "probes.padding"),
    ({"layout": ["diagonal"]}, "probes.layout"),
    ({"edits": {"luminance_steps": [0.0]}}, "probes.edits.luminance_steps"),
    ({"typo": 1}, "probes.typo"),
])
def test_bad_probe_settings_name_the_field(section, message):
    with pytest.raises(ConfigError, match=message):
        parse_params({"probes": section}, source="params.yaml")


def test_an_empty_list_switches_a_probe_off():
    assert "grid" not in ProbesParams(grid=[]).kinds()


# --- composition --------------------------------------------------------------------------


def test_subsample_is_seeded_keeps_both_orders_and_skips_together_tuples(data):
    _table, _, pairs, _ = data
    one, two = subsample(pairs, 3, seed=5), subsample(pairs, 3, seed=5)
    pd.testing.assert_frame_equal(one, two)
    assert one.groupby("base_id")["order"].nunique().eq(2).all()
    assert one.groupby("comparison")["base_id"].nunique().eq(3).all()
    assert (one["kind"] == "pair").all()
    assert not subsample(pairs, 3, seed=6)["base_id"].equals(one["base_id"])


def test_padding_shifts_every_member_and_widens_the_composite(data):
    table, _, pairs, _ = data
    sub = subsample(pairs, 2, 1)
    out = probe_pairs(sub, ProbeSetting("padding", 13), dataset_sizes(table), ProbesParams())
    assert (out["x"].to_numpy() == sub["x"].to_numpy() + 13).all()
    assert (out["composite_width"] == sub["composite_width"] + 13).all()
    top = probe_pairs(sub, ProbeSetting("padding", 13), dataset_sizes(table),
                      ProbesParams(padding_side="top"))
    assert (top["y"].to_numpy() == sub["y"].to_numpy() + 13).all()


def test_order_swap_shows_the_other_order_of_the_same_tuple(data):
    table, _, pairs, _ = data
    sub = subsample(pairs, 2, 1)
    out = probe_pairs(sub, ProbeSetting("order", "swapped"), dataset_sizes(table),
                      ProbesParams())
    for tid, t in out.groupby("tuple_id"):
        base = sub[sub["tuple_id"] == tid]
        assert list(t["image_id"]) == list(base["image_id"])[::-1]
        assert (t["order"] == 1 - base["order"].iloc[0]).all()
        # the same images in reverse order: exactly the counterbalanced twin's geometry
        twin = sub[(sub["base_id"] == base["base_id"].iloc[0]) & (sub["tuple_id"] != tid)]
        assert list(t["x"]) == list(twin["x"]) and list(t["image_id"]) == list(twin["image_id"])


def test_grid_is_top_blank_bottom(data):
    table, _, pairs, _ = data
    sub = subsample(pairs, 1, 1)
    out = probe_pairs(sub, ProbeSetting("grid", 1.0), dataset_sizes(table), ProbesParams())
    for _, t in out.groupby("tuple_id"):
        top, bottom = t.iloc[0], t.iloc[1]
        band = max(top["height"], bottom["height"])
        assert top["y"] == 0 and bottom["y"] == top["height"] + band
        assert t["composite_height"].iloc[0] == top["height"] + band + bottom["height"]


# --- soft outcomes ------------------------------------------------------------------------


def test_soft_outcomes_of_a_known_map():
    geometry = compose([(20, 10), (20, 10)])
    gx, gy = np.meshgrid(np.array([5.0, 15.0, 25.0, 35.0]), np.array([5.0]))
    scores = np.array([[1.0, 3.0, 2.0, 4.0]])
    result = SaliencyResult("t", 40, 10, gx, gy, scores, (35, 5), model="test")
    left, right = soft_outcomes(result, geometry, top_k=2)
    # shifted by the minimum 1: left holds 0 + 2, right 1 + 3
    assert left["mass_share"] == pytest.approx(2 / 6)
    assert right["mass_share"] == pytest.approx(4 / 6)
    assert left["topk_share"] == 0.5 and right["topk_share"] == 0.5  # cells 4 (right), 3 (left)
    assert right["margin"] == pytest.approx(1.0) and left["margin"] == pytest.approx(-1.0)
    assert right["mass_won"] and not left["mass_won"]


def test_croppers_without_a_map_have_no_soft_outcomes():
    geometry = compose([(20, 10), (20, 10)])
    z = np.zeros((0, 0))
    rows = soft_outcomes(SaliencyResult("t", 40, 10, z, z, z, (5, 5)), geometry, 3)
    assert not any(r["has_map"] for r in rows) and all(np.isnan(r["margin"]) for r in rows)


# --- known answers ------------------------------------------------------------------------


def center_winner(rows: pd.DataFrame) -> int:
    """The member ``center`` must pick, computed from the grid alone: the cell nearest the
    composite's middle (first in row-major order among equals), truncated to pixels."""
    geometry = geometry_of(rows)
    w, h = geometry.width, geometry.height
    gx, gy = grid_coordinates(w, h, *fit_size(w, h))
    # a Gaussian in relative units peaks at the smallest relative distance to the middle;
    # cells the same distance away (mirror images) tie, and the first in row-major order wins
    # (the grid is float32, so "the same" allows its rounding)
    scaled = ((gx - w / 2) / w) ** 2 + ((gy - h / 2) / h) ** 2
    nearest = scaled <= scaled.min() * (1 + 1e-4)  # float32 grid coordinates
    point = salient_point(nearest.astype(float), gx, gy)
    return geometry.member_at(*point)


def test_center_response_to_padding_is_exactly_predictable(data):
    table, _, pairs, images = data
    params = ProbesParams(padding=[0, 6, 13, 19, 26, 31])
    out = probe(subsample(pairs, 6, 1), table, images, load_cropper("center"), params,
                ["padding"])
    out = out[out["probe"] == "padding"]
    checked = 0
    for _, t in out.groupby(["setting", "tuple_id"]):
        t = t.sort_values("position")
        assert int(np.flatnonzero(t["won"].to_numpy())[0]) == center_winner(t)
        checked += 1
    assert checked == 6 * len(subsample(pairs, 6, 1)) // 2


def test_an_image_paired_with_itself_flips_only_by_position(data):
    table, _, pairs, images = data
    sub = subsample(pairs, 6, 1)
    # both members and both orders of a base tuple: its first group's image
    same = sub.assign(image_id=sub.groupby("base_id")["image_id"].transform("first"))
    sizes = dataset_sizes(table)
    # rebuild each tuple's geometry for its twin members
    rows = []
    for _, t in same.groupby("tuple_id"):
        g = compose([sizes[i] for i in t["image_id"]])
        t = t.copy()
        t["x"] = [p.x for p in g.placements]
        t["width"] = [p.width for p in g.placements]
        t["height"] = [p.height for p in g.placements]
        t["composite_width"], t["composite_height"] = g.width, g.height
        rows.append(t)
    same = pd.concat(rows, ignore_index=True)
    params = ProbesParams(padding=[6, 13, 19], gap=[16, 64])
    out = probe(same, table, images, load_cropper("opencv-spectral"), params,
                ["padding", "gap"])
    tuples = sp.probe_tuples(out)
    flips = sp.with_baseline(tuples)
    # both orders show the very same picture: whatever flips, flips in both, and the first
    # group wins exactly half of every setting's tuples
    by_base = flips.groupby(["setting", "base_id"])["flip"].agg(["min", "max"])
    assert (by_base["min"] == by_base["max"]).all()
    assert (tuples.groupby("setting")["a_won"].mean() == 0.5).all()
    assert flips["flip"].sum() > 0  # the probe did move the winner somewhere


def test_statistics_against_the_baseline(data):
    table, faces, pairs, images = data
    params = ProbesParams(padding=[0, 31], layout=["vertical"], grid=[1.0])
    out = probe(subsample(pairs, 6, 1), table, images, load_cropper("center"), params,
                ["padding", "layout", "grid"], faces=faces)
    tuples = sp.probe_tuples(out)
    flips = sp.flip_table(tuples).set_index("setting")
    assert flips.loc["padding=0", "flip_rate"] == 0 and flips.loc["baseline", "flips"] == 0
    assert flips.loc["padding=0", "interval"] == "wilson"
    assert (flips["flip_low"] <= flips["flip_rate"]).all()
    assert (flips["flip_rate"] <= flips["flip_high"]).all()
    verdicts = sp.verdict_table(tuples)
    unchanged = verdicts[verdicts["setting"] == "padding=0"]
    assert unchanged["survives"].all() and (unchanged["delta_change"] == 0).all()
    assert set(verdicts["verdict"]) <= {"differs", "equivalent", "inconclusive"}
    matrix = sp.stability_matrix(verdicts)
    assert {"baseline", "padding=0", "padding=31", "layout=vertical"} <= set(matrix.columns)
    soft = sp.soft_table(tuples)
    assert soft["applicable"].all()
    assert ((soft["mass_argmax_disagree"] >= 0) & (soft["mass_argmax_disagree"] <= 1)).all()
    survival = sp.survival_table(out)
    assert set(survival["aspect_ratio"]) == {0.56, 1.0, 2.0}
    parts = survival[["top_only", "bottom_only", "both", "neither"]].sum(axis=1)
    assert np.allclose(parts, 1.0)


# --- counterfactual edits -----------------------------------------------------------------


def test_edits_change_only_their_region():
    rng = np.random.default_rng(0)
    rgb = rng.integers(40, 200, size=(60, 40, 3), dtype=np.uint8)
    face = Box(10, 20, 20, 20)
    lighter = apply_edit(rgb, face, Edit("luminance", 0.2))
    inside = (slice(20, 40), slice(10, 30))
    outside = np.ones(rgb.shape[:2], bool)
    outside[inside] = False
    assert (lighter[outside] == rgb[outside]).all()
    assert lighter[inside].astype(int).sum() > rgb[inside].astype(int).sum()
    grey = apply_edit(rgb, face, Edit("tone", "greyscale"))
    assert (grey[..., 0] == grey[..., 1]).all() and (grey[..., 1] == grey[..., 2]).all()
    hair = hair_box(face, 40)
    assert hair.bottom == face.top and hair.top == pytest.approx(8.0)
    whiter = apply_edit(rgb, face, Edit("hair", 0.6))
    assert (whiter[8:20, 8:32] >= rgb[8:20, 8:32]).all() and (whiter[20:] == rgb[20:]).all()


def test_text_edits_are_skipped_with_a_reason_when_fonts_are_absent(tmp_path):
    edits, skipped = edits_of(EditsParams(), roots=[tmp_path])
    assert not any(e.kind == "text" for e in edits)
    assert len(skipped) == 4 and all("fonts-noto" in s for s in skipped)


def test_a_graded_edit_with_no_effect_on_center_is_flat(data, tmp_path):
    table, faces, _, images = data
    selected = select_images(table, faces, per_group=2, seed=1)
    steps = [-0.25, -0.15, -0.05, 0.05, 0.15, 0.25]
    edits = [Edit("luminance", s) for s in steps]
    rows = run_edits(selected, edits, cropper=load_cropper("center"), images=images)
    table_ = edit_table(rows)
    assert len(table_) == len(steps)
    # center sees only the size: Δ max is 0 and the edited image wins exactly half (both
    # orders), inside every interval — a flat dose–response
    assert (table_["delta_max"] == 0).all()
    assert (table_["win_rate"] == 0.5).all()
    assert ((table_["win_low"] <= 0.5) & (table_["win_high"] >= 0.5)).all()


def test_edits_move_a_pixel_cropper(data):
    table, faces, _, images = data
    selected = select_images(table, faces, per_group=2, seed=1)
    rows = run_edits(selected, [Edit("luminance", -0.25), Edit("tone", "greyscale")],
                     cropper=load_cropper("opencv-spectral"), images=images)
    assert rows["delta_max"].notna().all() and (rows["delta_max"] != 0).any()
    assert set(rows["order"]) == {0, 1}


# --- command, outputs and report ------------------------------------------------------------


def test_probe_stats_writes_the_documented_tables_and_the_report_section(data, tmp_path):
    from pathlib import Path

    from cropaudit.cli import main
    from cropaudit.reporting.report import _probes_section

    table, faces, pairs, images = data
    params = ProbesParams(padding=[0, 13], grid=[1.0])
    out = probe(subsample(pairs, 4, 1), table, images, load_cropper("center"), params,
                ["padding", "grid"], faces=faces)
    tables = []
    for kind, g in out.groupby("probe"):
        path = tmp_path / f"{kind}.parquet"
        g.to_parquet(path)
        tables.append(str(path))
    selected = select_images(table, faces, per_group=1, seed=1)
    edits = run_edits(selected, [Edit("luminance", 0.1), Edit("luminance", -0.1)],
                      cropper=load_cropper("center"), images=images)
    edits.to_parquet(tmp_path / "edits.parquet")
    folder, metrics = tmp_path / "summary", tmp_path / "metrics.json"
    repo_params = Path(__file__).resolve().parents[1] / "params.yaml"
    assert main(["probe-stats", "--params", str(repo_params), "--tables", *tables,
                 "--edits", str(tmp_path / "edits.parquet"), "--out-dir", str(folder),
                 "--metrics", str(metrics)]) == 0
    for name in ("flips", "flips-by-comparison", "verdicts", "stability", "soft", "survival",
                 "edits"):
        assert (folder / f"{name}.csv").is_file()
    for name in ("deltas", "flips-offset", "dose-response"):
        assert (folder / f"{name}.png").stat().st_size > 0
    import json

    from cropaudit.reporting.tracking import flat_metrics

    logged = flat_metrics(json.loads(metrics.read_text()))  # MLflow keys: "=" becomes "_"
    assert logged["probes.center.padding_13.flip_rate"] >= 0
    numbers = json.loads(metrics.read_text())["probes"]["center"]
    assert numbers["padding=0"]["flip_rate"] == 0 and numbers["baseline"]["verdicts_kept"] == 1
    section = _probes_section(folder, 50)
    assert section is not None and "center" in section["summary"]
    assert any("flip" in t["title"] for t in section["tables"])


@pytest.mark.slow
def test_the_demos_planted_effect_keeps_its_sign_under_mild_probes(tmp_path):
    from cropaudit.croppers.registry import cropper_from_params
    from cropaudit.datasets.demo import build
    from support.workflow import fastgaze_model

    model = fastgaze_model()
    if model is None:
        pytest.skip("FastGaze model not found (set CROPAUDIT_FASTGAZE or CROPAUDIT_SHARED)")
    params = parse_params({"dataset": {"demo": {"images_per_group": 20},
                                       "groups": {"attributes": ["feature", "cohort"]}}})
    table = build(params, tmp_path / "images.parquet")
    pairs = sample_pairs(table, SamplingParams(n=40, together=False), seed=params.seed)
    planted = [c for c in pairs["comparison"].unique()
               if c.split("~")[0].startswith("marked") and c.split("~")[1].startswith("plain")]
    sub = subsample(pairs[pairs["comparison"].isin(planted)], 15, params.seed)
    images = MemberImages(tmp_path / "images.parquet", table, max_pixels=10**8,
                          cache_bytes=1 << 28)
    mild = ProbesParams(padding=[6], jpeg=[95])
    cropper = cropper_from_params(params, "fastgaze", str(model))
    out = probe(sub, table, images, cropper, mild, ["padding", "jpeg"])
    tuples = sp.probe_tuples(out)
    marked_wins = tuples.groupby("setting")["a_won"].mean()
    assert set(marked_wins.index) == {"baseline", "padding=6", "jpeg=95"}
    assert (marked_wins > 0.5).all(), marked_wins


def test_rates_over_a_single_image_fall_back_to_wilson():
    rate, low, high, method = sp.clustered_rate(np.array([0, 1, 1]), np.array(["x"] * 3),
                                                np.array(["y", "z", "w"]), 0.05)
    assert method == "wilson" and low < rate < high
