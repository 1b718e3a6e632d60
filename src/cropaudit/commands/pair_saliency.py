"""Run the saliency model on sampled tuples (the workflow's saliency stage).

Each tuple of the pairs table is composed in memory from its recorded geometry and shown to
the cropper named by --cropper in batches. Writes, per member row: the composite's
salient point, whether this member holds it (won), and max / p95 / median / mean of the
model's grid scores inside the member's rectangle.

--shard i --shards K processes the i-th of K contiguous blocks of tuples, so a workflow can run
the blocks as separate (cluster) jobs; `cropaudit gather` joins them and checks completeness.
With saliency.save_composites each composite is also written as JPEG to --composites-dir.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import CROPPER, ParamKeys

HELP = "saliency of composed tuples: salient point, winner, per-member score statistics"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("saliency", "model.max_pixels", CROPPER)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--dataset", required=True, help="dataset table (prepare-data)")
    parser.add_argument("--pairs", required=True, help="pairs table (sample-pairs)")
    parser.add_argument("--model", default=None, help="model file (fastgaze backend)")
    parser.add_argument("--cropper", required=True, metavar="NAME",
                        help="cropper to run (`cropaudit croppers` lists them)")
    parser.add_argument("--shard", type=int, default=0, help="which shard (0-based)")
    parser.add_argument("--shards", type=int, default=1, help="number of shards")
    parser.add_argument("--composites-dir", type=Path, default=None,
                        help="where composites go when saliency.save_composites is true")
    parser.add_argument("--out", required=True, help="outcomes table of this shard")
    parser.add_argument("--progress", action="store_true", help="progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.contracts import read_pairs
    from cropaudit.croppers.memory import CROPPER_MEMORY
    from cropaudit.croppers.registry import cropper_from_params
    from cropaudit.datasets.table import read_table
    from cropaudit.engine.threads import workers_within
    from cropaudit.errors import ConfigError
    from cropaudit.imaging.upright import DECODE_MB_PER_MEGAPIXEL
    from cropaudit.outputs import remove_outputs
    from cropaudit.stages.pair_saliency import MemberImages, run_shard, write_shard
    from cropaudit.stages.params import MAX_SHARDS

    params = load_params(args.params)
    if not 1 <= args.shards <= MAX_SHARDS:
        raise ConfigError(f"--shards must be in 1..{MAX_SHARDS} (got {args.shards})")
    if not 0 <= args.shard < args.shards:
        raise ConfigError(f"--shard must be in 0..{args.shards - 1} (got {args.shard})")
    table = read_table(args.dataset)
    pairs = read_pairs(args.pairs)
    composites_dir = None
    if params.saliency.save_composites:
        if args.composites_dir is None:
            raise ConfigError("saliency.save_composites: give --composites-dir")
        composites_dir = args.composites_dir
        composites_dir.mkdir(parents=True, exist_ok=True)
    name = args.cropper
    model = cropper_from_params(params, name, args.model)
    images = MemberImages(args.dataset, table, max_pixels=params.model.max_pixels,
                          cache_bytes=params.saliency.image_cache_mb << 20)
    # each compose thread decodes one member at a time; the cropper and the cache come first
    figure = CROPPER_MEMORY.get(name)
    compose_workers = workers_within(
        DECODE_MB_PER_MEGAPIXEL * params.model.max_pixels / 1e6,
        reserved_mb=params.saliency.image_cache_mb
        + (figure.peak_mb(params.model.max_pixels) if figure else 0))
    try:
        outcomes = run_shard(pairs, images, model, shard=args.shard, shards=args.shards,
                             composites_dir=composites_dir,
                             progress=True if args.progress else None,
                             compose_workers=compose_workers)
    except BaseException:
        remove_outputs(args.out)
        raise
    write_shard(outcomes, args.out, shard=args.shard, shards=args.shards,
                pairs_path=args.pairs, n_tuples=int(pairs["tuple_id"].nunique()))
    won = outcomes[outcomes["won"]] if len(outcomes) else outcomes
    print(f"{args.out}: {len(won)} composites (shard {args.shard} of {args.shards}, "
          f"cropper {name})")
    return 0
