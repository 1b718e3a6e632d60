"""Counterfactual edits of single images for one cropper (docs/probes.md).

probes.edits.images_per_group images of each group with a detected face (seeded) are edited
inside their primary face box (graded CIELAB lightness and hue steps), as a whole (greyscale,
sepia), above it (lightened hair) or with one sentence of text per script. Each edited image
is shown alone (its max saliency against the original's) and beside its unedited self in both
orders (does it hold the salient point?). Text edits whose Noto font is missing are skipped
with a reason on stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cropaudit.commands.declared import CROPPER, ParamKeys

HELP = "counterfactual edits (skin lightness/hue, tone, hair, text) for one cropper"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("seed", "probes.edits", "sampling.background", "model.max_pixels",
                     "saliency.image_cache_mb", CROPPER)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--cropper", required=True, metavar="NAME")
    parser.add_argument("--dataset", required=True, help="dataset table (prepare-data)")
    parser.add_argument("--faces", required=True, help="faces table (cropaudit faces)")
    parser.add_argument("--model", default=None, help="model file (fastgaze)")
    parser.add_argument("--out", required=True, type=Path, help="edit outcomes (parquet)")
    parser.add_argument("--progress", action="store_true", help="progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from cropaudit.commands.probe import load_run
    from cropaudit.outputs import remove_outputs, write_parquet
    from cropaudit.probes.edits import edits_of, select_images
    from cropaudit.probes.runner import run_edits

    params, table, cropper, images = load_run(args)
    faces = pd.read_parquet(args.faces)
    selected = select_images(table, faces, params.probes.edits.images_per_group, params.seed)
    edits, skipped = edits_of(params.probes.edits)
    for line in skipped:
        print(f"cropaudit probe-edits: skipped {line}", file=sys.stderr)
    try:
        out = run_edits(selected, edits, cropper=cropper, images=images,
                        background=params.sampling.background,
                        progress=True if args.progress else None)
    except BaseException:
        remove_outputs(args.out)
        raise
    write_parquet(out, args.out, {"cropper": args.cropper, "skipped": skipped,
                                  "edits": [e.key for e in edits]})
    print(f"{args.out}: {len(edits)} edits x {len(selected)} images, cropper {args.cropper}")
    return 0
