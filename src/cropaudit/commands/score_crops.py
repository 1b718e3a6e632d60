"""Crop every composite at each configured aspect ratio and score what each member keeps.

For each composite the crop centred on its salient point is computed per aspect ratio
(crops.aspect_ratios, height/width, same geometry as Twitter's cropper); each member's
retention is the fraction of its area inside that crop (0 = cropped out entirely).
"""

from __future__ import annotations

import argparse

HELP = "crops per aspect ratio and per-member crop retention (results/crops.parquet)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--outcomes", required=True, help="saliency outcomes (gather)")
    parser.add_argument("--out", required=True, help="crops table to write")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.crop_scoring import score_crops
    from cropaudit.outputs import write_parquet
    from cropaudit.tables import read_outcomes

    params = load_params(args.params)
    crops = score_crops(read_outcomes(args.outcomes), params.crops.aspect_ratios)
    write_parquet(crops, args.out)
    print(f"{args.out}: {len(crops)} member crops at {len(params.crops.aspect_ratios)} ratios")
    return 0
