"""End to end against the original program on its 89 reference images.

Targets (issue 2): identical salient point on ≥ 99 % of images, identical crop rectangles on
≥ 99 %, grid scores close (median abs difference ≤ 0.01). Every mismatch is printed.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cropaudit.engine.loader import load_model
from cropaudit.engine.model_store import ModelParams
from cropaudit.engine.types import ImageFailure
from cropaudit.geometry.crops import DEFAULT_ASPECT_RATIOS
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


# -- runtimes and precisions: LiteRT (the CPU default, above) against TensorFlow (the
# -- reference builder) and the int8 path against fp32 ------------------------------------


def _run(fastgaze_path, reference_dir, **kwargs):
    from cropaudit.engine.fastgaze import FastGazeModel

    model = FastGazeModel.from_file(fastgaze_path, batch_size=8, **kwargs)
    paths = [str(p) for _, p in reference_images(reference_dir)]
    return model, list(model.predict(paths))


def test_default_cpu_runtime_is_litert_without_tensorflow(fastgaze_path) -> None:
    """Without a GPU the engine runs LiteRT and, once converted, never imports TensorFlow."""
    import subprocess
    import sys

    from cropaudit.engine.fastgaze import tensorflow_sees_gpu

    if tensorflow_sees_gpu():
        pytest.skip("a GPU is visible: the default runtime is TensorFlow here")
    load_model(model_path=fastgaze_path)  # converts once if the cache is cold (imports TF)
    code = (
        "import sys; from cropaudit.engine.loader import load_model; "
        f"m = load_model(model_path={str(fastgaze_path)!r}); "
        "print(m.runtime, 'tensorflow' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    assert out == ["litert", "False"]


def test_one_image_command_imports_no_table_or_plotting_library(fastgaze_path, tmp_path) -> None:
    """`cropaudit saliency IMAGE` starts in well under a second because it never imports
    TensorFlow (on CPU), pandas, SciPy or Matplotlib: each costs a large part of that."""
    import subprocess
    import sys

    from cropaudit.engine.fastgaze import tensorflow_sees_gpu

    if tensorflow_sees_gpu():
        pytest.skip("a GPU is visible: the default runtime is TensorFlow here")
    load_model(model_path=fastgaze_path)  # convert once if the cache is cold (imports TF)
    image = tmp_path / "photo.jpg"
    Image.fromarray(np.full((60, 80, 3), 128, np.uint8)).save(image)
    heavy = ("tensorflow", "pandas", "pyarrow", "scipy", "matplotlib", "statsmodels", "mlflow")
    code = (
        "import sys; from cropaudit.cli import main; "
        f"rc = main(['saliency', '--model', {str(fastgaze_path)!r}, {str(image)!r}]); "
        f"print('LOADED', rc, *[m for m in {heavy!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.splitlines()[-1].split() == ["LOADED", "0"]


def test_litert_matches_tensorflow(reference_dir, fastgaze_path, reference_results) -> None:
    """Same points and crops as the TF network on all 89 images, scores within 1e-4."""
    _, tf_results = _run(fastgaze_path, reference_dir, runtime="tensorflow")
    worst = 0.0
    for (name, lite), tf in zip(reference_results, tf_results, strict=True):
        assert lite.salient_point == tf.salient_point, name
        assert lite.crops(DEFAULT_ASPECT_RATIOS) == tf.crops(DEFAULT_ASPECT_RATIOS), name
        assert lite.crops() == tf.crops(), name
        worst = max(worst, float(np.abs(lite.scores - tf.scores).max()))
    print(f"\nLiteRT vs TensorFlow: worst score difference {worst:.2e}")
    assert worst <= 1e-4


def test_int8_path_never_changes_a_decision(reference_dir, fastgaze_path,
                                             reference_results) -> None:
    """int8 with its fp32 fallback: every salient point and crop equals fp32's."""
    model, fast = _run(fastgaze_path, reference_dir, runtime="litert", precision="int8")
    assert model.precision == "int8"
    for (name, exact), res in zip(reference_results, fast, strict=True):
        assert res.salient_point == exact.salient_point, name
        assert res.crops(DEFAULT_ASPECT_RATIOS) == exact.crops(DEFAULT_ASPECT_RATIOS), name
    rate = model.fallback_rate
    print(f"\nint8 path: {rate:.0%} of the reference images recomputed in fp32")
    assert rate is not None and 0.0 < rate < 1.0  # the fallback is selective, not all-or-none
