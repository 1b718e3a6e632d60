"""Paper-scale saliency run: 6 comparisons × 10,000 tuples × both orders = 120,000 composites.

Generated images (the demo source: 4 groups → 6 pairwise comparisons) go through the real
stage commands, each a separate process as the workflow runs them:
`cropaudit prepare-data` → `cropaudit sample-pairs` → `cropaudit pair-saliency` (K shards in
parallel, each given cores/K threads) → `cropaudit gather`.

Reports wall time, composites/s, peak memory (largest process) and cost per 1,000 pairs (a
pair = one tuple shown in both orders = 2 composites) for the saliency stage. The paper-scale
goal is ≤ 30 min on 2 cores. ``--scale 0.05`` runs 1/20 of the tuples and extrapolates
linearly (the per-composite cost does not depend on the run's length: memory is bounded and
there is no per-run warm-up beyond the model's sub-second load), saying so.

Usage: python benchmarks/bench_paper_scale.py [--scale 1.0] [--cores 2] [--shards 2]
       [--images-per-group 200] [--model PATH] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("CROPAUDIT_SHARED") or ROOT.parent / "shared")
PAPER_TUPLES = 10_000
GOAL_MINUTES = 30.0


def write_params(workdir: Path, n: int, images_per_group: int) -> Path:
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["dataset"]["source"] = "demo"
    params["dataset"]["demo"]["images_per_group"] = images_per_group
    params["sampling"].update({"n": n, "together": False, "both_orders": True, "pairs": "all"})
    path = workdir / "params.yaml"
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


def cropaudit(*args: str, env: dict[str, str] | None = None,
              cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "cropaudit", *args], cwd=cwd, env=env)


def wait_all(procs: list[subprocess.Popen[bytes]], what: str) -> None:
    for p in procs:
        if p.wait() != 0:
            raise SystemExit(f"{what} failed (exit {p.returncode})")


def gpu_line() -> None:
    from cropaudit.engine.fastgaze import tensorflow_sees_gpu

    if tensorflow_sees_gpu():
        print("GPU: TensorFlow sees a GPU; pair-saliency runs the batched TensorFlow path")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of 10,000 tuples")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--shards", type=int, default=2, help="parallel pair-saliency jobs")
    parser.add_argument("--images-per-group", type=int, default=200)
    parser.add_argument("--model", default=os.environ.get("CROPAUDIT_FASTGAZE")
                        or str(SHARED / "models" / "fastgaze.vxm"))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="cropaudit-paper-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    n = max(1, round(PAPER_TUPLES * args.scale))
    write_params(workdir, n, args.images_per_group)
    gpu_line()
    print(f"workdir {workdir}; {n} tuples per comparison × 6 × 2 orders, "
          f"{args.shards} shard(s) on {args.cores} cores")

    t = time.perf_counter()
    wait_all([cropaudit("prepare-data", "--params", "params.yaml", cwd=workdir)], "prepare-data")
    wait_all([cropaudit("sample-pairs", "--params", "params.yaml", "--dataset",
                        "data/demo/images.parquet", "--out", "results/pairs.parquet",
                        cwd=workdir)], "sample-pairs")
    print(f"data + pairs: {time.perf_counter() - t:.1f} s (not counted below)")

    env = dict(os.environ, OMP_NUM_THREADS=str(max(1, args.cores // args.shards)))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    procs = [
        cropaudit("pair-saliency", "--params", "params.yaml", "--dataset",
                  "data/demo/images.parquet", "--pairs", "results/pairs.parquet", "--model",
                  args.model, "--shard", str(i), "--shards", str(args.shards), "--out",
                  f"results/saliency/shard-{i}.parquet", env=env, cwd=workdir)
        for i in range(args.shards)
    ]
    wait_all(procs, "pair-saliency")
    wait_all([cropaudit("gather", "--out", "results/outcomes.parquet",
                        *[f"results/saliency/shard-{i}.parquet" for i in range(args.shards)],
                        cwd=workdir)], "gather")
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mib = after.ru_maxrss / 1024  # largest child process so far (KiB on Linux)

    composites = 6 * 2 * n
    pairs = composites / 2
    rate = composites / wall
    print(f"saliency stage: {composites} composites in {wall:.1f} s wall = {rate:.1f} "
          f"composites/s; CPU {cpu:.0f} s ({cpu / wall:.0%} of one core); peak memory "
          f"{peak_mib:.0f} MiB per process")
    print(f"cost per 1,000 pairs (2,000 composites): {wall / pairs * 1000 / 60:.2f} min wall "
          f"on {args.cores} cores, {cpu / pairs * 1000 / 60:.2f} CPU-min")
    full = 120_000 / rate / 60
    tag = "measured" if args.scale == 1.0 else f"extrapolated ×{1 / args.scale:g} from this run"
    print(f"paper scale (120,000 composites): {full:.1f} min ({tag}); goal ≤ {GOAL_MINUTES:g} "
          f"min: {'met' if full <= GOAL_MINUTES else 'NOT met'}")
    if cpu < 0.9 * args.cores * wall:
        # Other processes took part of the cores: what the same work needs when it has them.
        quiet = 120_000 * cpu / composites / args.cores / 60
        print(f"  the run got {cpu / wall:.2f} of {args.cores} cores (shared machine); with the "
              f"cores to itself: ≈ {quiet:.1f} min (CPU time / {args.cores} cores, an estimate)")


if __name__ == "__main__":
    main()
