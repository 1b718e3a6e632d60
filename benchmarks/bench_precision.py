"""The reduced-precision (int8) path against fp32: error bound, fallback rate, net speed-up.

Runs the LiteRT engine twice, fp32 and int8 (with its fp32 fallback), on
1. the 89 reference images (../shared/reference/images), as `cropaudit saliency` sees them;
2. every composite of a pairs table (default: the demo run's results/pairs.parquet), as
   `cropaudit pair-saliency` sees them,
and reports: the largest |int8 − fp32| score of any grid cell (the raw int8 error, measured
with the fallback off), how many images the int8 path recomputed in fp32, whether every
salient point, crop and pair winner is identical, and CPU seconds per image of each path
(process CPU time, one worker: robust on a shared machine; wall time is printed too).

Usage: python benchmarks/bench_precision.py [--model PATH] [--workdir DIR_WITH_DEMO_RUN]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CROPAUDIT_SHARED") or ROOT.parent / "shared")


def composites(workdir: Path, limit: int | None) -> tuple[list[np.ndarray], list[object]]:
    """Every composite of the pairs table, with its geometry (to name the winner)."""
    import pandas as pd

    from cropaudit.datasets.table import read_table
    from cropaudit.stages.pair_saliency import MemberImages, geometry_of, render_composite

    dataset = workdir / "data" / "demo" / "images.parquet"
    pairs = pd.read_parquet(workdir / "results" / "pairs.parquet")
    images = MemberImages(dataset, read_table(dataset), max_pixels=100_000_000,
                          cache_bytes=512 << 20)
    tuples = [g for _, g in pairs.sort_values(["tuple_id", "position"]).groupby("tuple_id")]
    tuples = tuples[:limit] if limit else tuples
    return [render_composite(t, images) for t in tuples], [geometry_of(t) for t in tuples]


def run(model, inputs: list) -> tuple[list, float, float]:  # noqa: ANN001
    cpu, wall = time.process_time(), time.perf_counter()
    results = list(model.predict(inputs))
    return results, time.process_time() - cpu, time.perf_counter() - wall


def raw_int8_error(fp32_model, inputs: list) -> float:  # noqa: ANN001
    """Largest cell difference of the int8 network alone (no fallback)."""
    from cropaudit.imaging.preprocess import prepare_array, prepare_file

    nets = fp32_model._lite_network(1), INT8._lite_network(1)  # noqa: SLF001
    worst = 0.0
    for x in inputs:
        p = prepare_array(x) if isinstance(x, np.ndarray) else prepare_file(x, 100_000_000)
        a = nets[0].run_one(p.network_input)
        b = nets[1].fast.run_one(p.network_input)
        worst = max(worst, float(np.abs(a - b).max()))
    return worst


def winners(result, geometry) -> list[bool]:  # noqa: ANN001
    from cropaudit.stages.pair_saliency import member_outcomes

    return [bool(m["won"]) for m in member_outcomes(result, geometry)]


def main() -> None:
    global INT8
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default=os.environ.get("CROPAUDIT_FASTGAZE")
                        or str(SHARED / "models" / "fastgaze.vxm"))
    parser.add_argument("--images", default=str(SHARED / "reference" / "images"))
    parser.add_argument("--workdir", type=Path, default=Path("."),
                        help="folder holding data/demo/images.parquet and results/pairs.parquet")
    parser.add_argument("--limit", type=int, default=None, help="first N composites only")
    args = parser.parse_args()

    from cropaudit.engine.fastgaze import FastGazeModel
    from cropaudit.engine.litert import INT8_ERROR_BOUND

    fp32 = FastGazeModel.from_file(args.model, runtime="litert", precision="fp32", workers=1)
    INT8 = FastGazeModel.from_file(args.model, runtime="litert", precision="int8", workers=1)
    refs = sorted(str(p) for p in Path(args.images).iterdir())
    comps, geometries = composites(args.workdir, args.limit)
    print(f"bound {INT8_ERROR_BOUND} (fallback when the top cell leads by ≤ 2 × bound)")
    for name, inputs in (("reference images", refs), ("demo composites", comps)):
        exact, t32, w32 = run(fp32, inputs)
        before = INT8._lite_network(1).calls, INT8._lite_network(1).fallbacks  # noqa: SLF001
        fast, t8, w8 = run(INT8, inputs)
        calls = INT8._lite_network(1).calls - before[0]  # noqa: SLF001
        fallbacks = INT8._lite_network(1).fallbacks - before[1]  # noqa: SLF001
        points = sum(a.salient_point == b.salient_point for a, b in zip(exact, fast, strict=True))
        crops = sum(a.crops() == b.crops() for a, b in zip(exact, fast, strict=True))
        line = (f"{name}: {len(inputs)}; identical salient points {points}/{len(inputs)}, "
                f"crops {crops}/{len(inputs)}")
        if name == "demo composites":
            won = sum(winners(a, g) == winners(b, g)
                      for a, b, g in zip(exact, fast, geometries, strict=True))
            line += f", winners {won}/{len(inputs)}"
        print(line)
        print(f"  int8 raw max |error| {raw_int8_error(fp32, inputs):.3f}; fallback "
              f"{fallbacks}/{calls} = {fallbacks / calls:.1%}")
        print(f"  CPU s/image: fp32 {t32 / len(inputs) * 1e3:.1f} ms, int8+fallback "
              f"{t8 / len(inputs) * 1e3:.1f} ms → net speed-up {t32 / t8:.2f}× "
              f"(wall {w32:.1f} s vs {w8:.1f} s)")


if __name__ == "__main__":
    main()
