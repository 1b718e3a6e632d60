"""The gaze analysis: is the max-saliency point on the face or elsewhere, per group?

Selects images like the paper (gaze.selection: paper = tall, height/width >=
gaze.min_aspect_ratio, with >= gaze.min_regions salient regions of area > gaze.min_region_area
in the Otsu-thresholded, closed saliency map; all = every image), labels each one
automatically from the single-image crops and the faces table (max_on_face: face / elsewhere /
no_face; crop_<ratio>: full / partial / none; other_salient_region: yes / no), and gives rates
per group and per group attribute with intervals and two-proportion tests.

Writes under --out-dir: selection.csv (every image and why it is in or out), labels.csv
(automatic labels of the selected images), rates.csv, comparisons.csv, review.csv (template
for people, one row per sheet) and sheets/<image>.png (up to gaze.review_per_value per value
of gaze.review_attribute); --metrics gets the rates as JSON. Fill in review.csv and run
`cropaudit gaze-import` to measure agreement with the automatic labels.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import ParamKeys

HELP = "gaze analysis: selection, automatic face labels, rates per group, review sheets"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("seed", "gaze", "crops.aspect_ratios", "stats.alpha", "stats.interval",
          "stats.correction", "dataset.groups.attributes", "model.max_pixels")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--dataset", required=True, help="dataset table (prepare-data)")
    parser.add_argument("--image-saliency", required=True,
                        help="results/croppers/<cropper>/image-saliency.parquet")
    parser.add_argument("--image-crops", required=True,
                        help="results/croppers/<cropper>/image-crops.parquet")
    parser.add_argument("--out-dir", required=True, type=Path,
                        help="e.g. results/croppers/<cropper>/gaze")
    parser.add_argument("--metrics", required=True, type=Path, help="gaze metrics JSON")
    parser.add_argument("--progress", action="store_true", help="progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.contracts import IMAGE_CROP_COLUMNS, read_stage_table
    from cropaudit.datasets.table import read_table
    from cropaudit.errors import ConfigError
    from cropaudit.stages.gaze import run_gaze
    from cropaudit.stages.image_saliency import read_image_saliency

    params = load_params(args.params)
    table = read_table(args.dataset)
    attributes = [a for a in params.dataset.groups.attributes if a in table.columns]
    by = params.gaze.review_attribute or "group"
    if by != "group" and by not in attributes:
        raise ConfigError(f"gaze.review_attribute: {by!r} is not a group attribute "
                          f"(dataset.groups.attributes: {', '.join(attributes)})")
    outcome = run_gaze(
        params=params, table=table, dataset_path=Path(args.dataset),
        saliency=read_image_saliency(args.image_saliency),
        image_crops=read_stage_table(args.image_crops, IMAGE_CROP_COLUMNS,
                                     what="single-image crops table", producer="score-crops"),
        attributes=attributes, out_dir=args.out_dir, metrics_path=args.metrics,
        progress=True if args.progress else None,
    )
    print(f"{args.out_dir}: {outcome.selected} of {outcome.images} images selected "
          f"({outcome.with_face} with a face), {outcome.sheets} review sheets")
    print(f"wrote {args.metrics}")
    return 0
