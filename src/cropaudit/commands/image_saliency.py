"""Run the saliency model on every dataset image alone (single-image saliency stage).

The pair stages show the model composites only; the single-image crops and the gaze analysis
need each image's own saliency. Writes one row per image: salient point, symmetry flag and
the whole grid of scores with its cell centres (list columns), so later stages never rerun the
model. Images are read from their files: numbers equal `cropaudit saliency FILE`.
"""

from __future__ import annotations

import argparse

from cropaudit.commands.declared import CROPPER, ParamKeys

HELP = (
    "saliency of every dataset image on its own, with its grid "
    "(results/croppers/<cropper>/image-saliency.parquet)")

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = (CROPPER,)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--dataset", required=True, help="dataset table (prepare-data)")
    parser.add_argument("--model", default=None, help="model file (fastgaze backend)")
    parser.add_argument("--cropper", required=True, metavar="NAME",
                        help="cropper to run (`cropaudit croppers` lists them)")
    parser.add_argument("--out", required=True, help="single-image saliency table to write")
    parser.add_argument("--progress", action="store_true", help="progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.croppers.registry import cropper_from_params
    from cropaudit.datasets.table import read_table
    from cropaudit.outputs import write_parquet
    from cropaudit.stages.image_saliency import image_saliency

    params = load_params(args.params)
    table = read_table(args.dataset)
    name = args.cropper
    model = cropper_from_params(params, name, args.model)
    result = image_saliency(table, args.dataset, model,
                            progress=True if args.progress else None)
    write_parquet(result, args.out)
    print(f"{args.out}: {len(result)} images (cropper {name})")
    return 0
