"""Run the composition probes for one cropper (the workflow's probe stage; docs/probes.md).

The baseline re-shows a seeded subsample of the pairs table (probes.tuples_per_comparison base
tuples per pair comparison, both orders) unchanged; every probe kind with settings in
params.yaml's probes section (padding, gap, order, layout, scaling, jpeg, grid; --kinds picks
some) shows the same tuples under each of its settings. Settings whose composites equal the
baseline's reuse its outcomes. All of it runs in one process, so the cropper is loaded once.
Writes one row per member and setting: the pairs columns, the saliency stage's outcome
columns, soft outcomes (mass_share, topk_share, margin, mass_won), ``probe`` (the kind, or
``baseline``) and, for grids, kept_ar<ratio> (the face survives the crop at that aspect ratio).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import CROPPER, ParamKeys

HELP = "run the fragility probes (padding, order, grid, ...) for one cropper"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("seed", "probes", "crops.aspect_ratios", "model.max_pixels",
                     "saliency.image_cache_mb", CROPPER)


def configure(parser: argparse.ArgumentParser) -> None:
    from cropaudit.probes.params import COMPOSITION_KINDS

    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--cropper", required=True, metavar="NAME",
                        help="cropper to probe (see `cropaudit croppers`)")
    parser.add_argument("--kinds", nargs="*", default=None, choices=COMPOSITION_KINDS,
                        metavar="KIND",
                        help="probe kinds to run (default: every kind with settings); "
                        f"one of {', '.join(COMPOSITION_KINDS)}")
    parser.add_argument("--dataset", required=True, help="dataset table (prepare-data)")
    parser.add_argument("--pairs", required=True, help="pairs table (sample-pairs)")
    parser.add_argument("--faces", default=None, help="faces table (grid survival)")
    parser.add_argument("--model", default=None, help="model file (fastgaze)")
    parser.add_argument("--out", required=True, type=Path, help="probe outcomes (parquet)")
    parser.add_argument("--progress", action="store_true", help="progress bar on stderr")


def load_run(args: argparse.Namespace):
    """What every probe command needs: params, dataset table, the cropper, member images."""
    from cropaudit.config import load_params
    from cropaudit.croppers.registry import cropper_from_params
    from cropaudit.datasets.table import read_table
    from cropaudit.stages.pair_saliency import MemberImages

    params = load_params(args.params)
    table = read_table(args.dataset)
    cropper = cropper_from_params(params, args.cropper, args.model)
    images = MemberImages(args.dataset, table, max_pixels=params.model.max_pixels,
                          cache_bytes=params.saliency.image_cache_mb << 20)
    return params, table, cropper, images


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from cropaudit.contracts import read_pairs
    from cropaudit.errors import ConfigError
    from cropaudit.outputs import remove_outputs, write_parquet
    from cropaudit.probes.recompose import dataset_sizes, settings_of, subsample
    from cropaudit.probes.runner import run_probe, setting_values

    params, table, cropper, images = load_run(args)
    kinds = params.probes.kinds() if args.kinds is None else list(dict.fromkeys(args.kinds))
    if "grid" in kinds and args.faces is None:
        raise ConfigError("--faces is needed for the grid probe (face survival)")
    sub = subsample(read_pairs(args.pairs), params.probes.tuples_per_comparison, params.seed)
    faces = pd.read_parquet(args.faces) if args.faces else None
    common = {"cropper": cropper, "images": images, "sizes": dataset_sizes(table),
              "params": params.probes, "aspect_ratios": params.crops.aspect_ratios,
              "faces": faces, "progress": True if args.progress else None}
    frames = []
    try:
        base_settings = settings_of(params.probes, "baseline")
        baseline = setting_values(run_probe(sub, base_settings, **common), base_settings)
        frames.append(baseline)
        for kind in kinds:
            settings = settings_of(params.probes, kind)
            frames.append(setting_values(run_probe(sub, settings, baseline=baseline, **common),
                                         settings))
        out = pd.concat(frames, ignore_index=True)
    except BaseException:
        remove_outputs(args.out)
        raise
    write_parquet(out, args.out, {"cropper": args.cropper, "probes": ["baseline", *kinds]})
    print(f"{args.out}: baseline and {len(kinds)} probe kind(s) x "
          f"{sub['tuple_id'].nunique()} tuples, cropper {args.cropper}")
    return 0
