"""End to end against the original program on its 89 reference images.

Targets (issue 2): identical salient point on ≥ 99 % of images, identical crop rectangles on
≥ 99 %, grid scores close (median abs difference ≤ 0.01). Every mismatch is printed.
"""

from __future__ import annotations

import numpy as np
import pytest

from cropaudit.geometry.crops import DEFAULT_ASPECT_RATIOS
from cropaudit.saliency import ImageFailure, load_model
from cropaudit.saliency.model_store import ModelParams
from reference import parse_output, reference_images


@pytest.fixture(scope="module")
def reference_results(reference_dir, fastgaze_path):
    model = load_model(ModelParams(batch_size=8), fastgaze_path)
    images = reference_images(reference_dir)
    results = list(model.predict([str(p) for _, p in images]))
    return [(name, res) for (name, _), res in zip(images, results, strict=True)]


def _compare(reference_dir, name, res):
    full = parse_output(reference_dir / "outputs" / f"{name}.out")
    plain = parse_output(reference_dir / "outputs" / f"{name}.plain.out")
    ours_full = [c.as_tuple() for c in res.crops(DEFAULT_ASPECT_RATIOS)]
    ours_plain = [c.as_tuple() for c in res.crops()]
    ref_scores = np.array([p[2] for p in full.points], dtype=np.float64)
    ref_xy = np.array([p[:2] for p in full.points], dtype=np.float64)
    ours_xy = np.stack([res.grid_x.ravel(), res.grid_y.ravel()], axis=1).astype(np.float64)
    grid_ok = ref_scores.shape[0] == res.scores.size
    diff = np.abs(res.scores.ravel() - ref_scores) if grid_ok else np.array([np.inf])
    xy_ok = grid_ok and np.allclose(ours_xy, ref_xy, rtol=1e-5, atol=1e-3)
    return {
        "name": name,
        "point": res.salient_point == full.salient_point == plain.salient_point,
        "crops": ours_full == full.crops and ours_plain == plain.crops,
        "grid_xy": xy_ok,
        "max_diff": float(diff.max()),
        "median_diff": float(np.median(diff)),
        "ours": res.salient_point,
        "ref": full.salient_point,
    }


def test_end_to_end_fidelity(reference_dir, reference_results) -> None:
    rows = []
    failures = []
    for name, res in reference_results:
        if isinstance(res, ImageFailure):
            failures.append((name, res.message))
            continue
        rows.append(_compare(reference_dir, name, res))
    n = len(rows) + len(failures)
    point_rate = sum(r["point"] for r in rows) / n
    crop_rate = sum(r["crops"] for r in rows) / n
    medians = np.array([r["median_diff"] for r in rows])
    maxima = np.array([r["max_diff"] for r in rows])
    print(f"\n{n} reference images: salient point identical {point_rate:.1%}, "
          f"crops identical {crop_rate:.1%}, grid-score abs diff: median of medians "
          f"{np.median(medians):.2e}, worst max {maxima.max():.2e}")
    for r in rows:
        if not (r["point"] and r["crops"] and r["grid_xy"]) or r["max_diff"] > 0.01:
            print(f"  MISMATCH {r['name']}: point ours {r['ours']} ref {r['ref']} "
                  f"crops {'ok' if r['crops'] else 'DIFFER'} grid_xy {r['grid_xy']} "
                  f"max diff {r['max_diff']:.3g}")
    for name, msg in failures:
        print(f"  FAILED {name}: {msg}")
    assert not failures
    assert all(r["grid_xy"] for r in rows)
    assert point_rate >= 0.99
    assert crop_rate >= 0.99
    assert np.median(medians) <= 0.01
