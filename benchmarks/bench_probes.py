"""Cost of the probe suite (issue 17): wall time per cropper on the demo, and as a multiple of
the base audit.

For each cropper, in-process after it is built: the base audit's saliency stage on every
pair tuple of the pairs table (``run_shard``, what `cropaudit pair-saliency` does), then the
probe suite of params.yaml (baseline, every composition probe kind, counterfactual edits)
as the workflow runs it. Reports composites shown and seconds for both and their ratio.
Needs the demo's dataset, pairs and faces tables (``snakemake --cores 2 results/pairs.parquet
data/demo/faces.parquet``). fastgaze runs when its model is found (CROPAUDIT_FASTGAZE or
models/fastgaze.vxm).

Usage: python benchmarks/bench_probes.py [--croppers NAME ...] [--params params.yaml]
                                         [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measure(name: str, params, table, pairs, faces, dataset: Path) -> dict[str, object]:  # noqa: ANN001
    from cropaudit.croppers.registry import cropper_from_params
    from cropaudit.probes.edits import edits_of, select_images
    from cropaudit.probes.recompose import dataset_sizes, settings_of, subsample
    from cropaudit.probes.runner import run_edits, run_probe, run_setting
    from cropaudit.stages.pair_saliency import MemberImages, run_shard

    model = os.environ.get("CROPAUDIT_FASTGAZE") or str(ROOT / params.model.path)
    cropper = cropper_from_params(params, name, model if name == "fastgaze" else None)

    def images() -> MemberImages:  # a cold cache for each part: decoding is part of the cost
        return MemberImages(dataset, table, max_pixels=params.model.max_pixels,
                            cache_bytes=params.saliency.image_cache_mb << 20)

    audit_pairs = pairs[pairs["kind"] == "pair"]
    started = time.perf_counter()
    run_shard(audit_pairs, images(), cropper)
    audit_s = time.perf_counter() - started
    audit_n = int(audit_pairs["tuple_id"].nunique())

    p = params.probes
    sub = subsample(pairs, p.tuples_per_comparison, params.seed)
    sizes = dataset_sizes(table)
    started = time.perf_counter()
    cache = images()
    base = run_setting(sub, settings_of(p, "baseline")[0], cropper=cropper, images=cache,
                       sizes=sizes, params=p)
    shown = sub["tuple_id"].nunique()
    for kind in p.kinds():
        out = run_probe(sub, settings_of(p, kind), cropper=cropper, images=cache, sizes=sizes,
                        params=p, aspect_ratios=params.crops.aspect_ratios, faces=faces,
                        baseline=base)
        shown += out["tuple_id"].nunique() * out["setting"].nunique()
    composition_s = time.perf_counter() - started
    started = time.perf_counter()
    edits, _ = edits_of(p.edits)
    selected = select_images(table, faces, p.edits.images_per_group, params.seed)
    run_edits(selected, edits, cropper=cropper, images=cache)
    edits_s = time.perf_counter() - started
    edit_images = len(selected) * (1 + 3 * len(edits))
    probe_s = composition_s + edits_s
    return {"cropper": name, "audit_composites": audit_n, "audit_s": round(audit_s, 2),
            "probe_composites": int(shown), "edit_images": edit_images,
            "composition_s": round(composition_s, 2), "edits_s": round(edits_s, 2),
            "probe_s": round(probe_s, 2), "cost_multiple": round(probe_s / audit_s, 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--croppers", nargs="+", default=None,
                        help="default: croppers of params.yaml")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"))
    parser.add_argument("--json", type=Path, default=None, help="also write results as JSON")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT / "src"))
    import pandas as pd

    from cropaudit.config import load_params
    from cropaudit.datasets.table import read_table

    params = load_params(args.params)
    data = ROOT / "data" / params.dataset.dataset_name
    dataset = data / "images.parquet"
    needed = [dataset, data / "faces.parquet", ROOT / "results/pairs.parquet"]
    missing = [str(p) for p in needed if not p.is_file()]
    if missing:
        print(f"bench_probes: missing {', '.join(missing)} (run snakemake --cores 2 "
              "results/pairs.parquet data/demo/faces.parquet)", file=sys.stderr)
        return 2
    table = read_table(dataset)
    pairs = pd.read_parquet(ROOT / "results/pairs.parquet")
    faces = pd.read_parquet(data / "faces.parquet")
    rows = []
    print(f"{'cropper':<20}{'audit':>8}{'audit s':>9}{'probes':>8}{'edit img':>9}"
          f"{'probe s':>9}{'x audit':>9}")
    for name in args.croppers or params.croppers:
        r = measure(name, params, table, pairs, faces, dataset)
        rows.append(r)
        print(f"{name:<20}{r['audit_composites']:>8}{r['audit_s']:>9}{r['probe_composites']:>8}"
              f"{r['edit_images']:>9}{r['probe_s']:>9}{r['cost_multiple']:>9}", flush=True)
    total_audit = sum(float(r["audit_s"]) for r in rows)  # type: ignore[arg-type]
    total_probe = sum(float(r["probe_s"]) for r in rows)  # type: ignore[arg-type]
    print(f"all croppers: probes {total_probe:.1f} s = {total_probe / total_audit:.2f} x the "
          f"base audit's saliency stage ({total_audit:.1f} s)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
