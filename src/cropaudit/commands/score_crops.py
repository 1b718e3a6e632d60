"""Crop every composite at each configured aspect ratio and score what each member keeps.

For each composite the crop centred on its salient point is computed per aspect ratio
(crops.aspect_ratios, height/width, same geometry as Twitter's cropper); each member's
retention is the fraction of its area inside that crop (0 = cropped out entirely).

With --faces (and --dataset) each member's face (rank 0 of the faces table) is mapped into
the composite and scored: salient point in the face box (salient_in_face), fraction of the
face box kept (face_retention), face fully kept (face_kept); NA for members without a face.
With --image-saliency the same is done for every dataset image shown alone, written to
--image-crops-out. `cropaudit stats` turns both into rates per group.
"""

from __future__ import annotations

import argparse

from cropaudit.commands.declared import ParamKeys

HELP = ("crops per aspect ratio; member/image retention and face scores "
        "(results/croppers/<cropper>/crops.parquet)")

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("crops",)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--outcomes", required=True, help="saliency outcomes (gather)")
    parser.add_argument("--out", required=True, help="crops table to write")
    parser.add_argument("--dataset", default=None, help="dataset table (with --faces)")
    parser.add_argument("--faces", default=None, help="faces table (faces)")
    parser.add_argument("--image-saliency", default=None,
                        help="single-image saliency table (image-saliency)")
    parser.add_argument("--image-crops-out", default=None,
                        help="single-image crops table to write (needs --image-saliency)")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.contracts import read_outcomes
    from cropaudit.errors import ConfigError
    from cropaudit.outputs import remove_outputs, write_parquet
    from cropaudit.stages.score_crops import image_crops, score_crops

    if args.faces and not args.dataset:
        raise ConfigError("--faces needs --dataset (to check it covers every image)")
    if bool(args.image_saliency) != bool(args.image_crops_out):
        raise ConfigError("--image-saliency and --image-crops-out go together")
    params = load_params(args.params)
    ratios = params.crops.aspect_ratios
    outcomes = read_outcomes(args.outcomes)
    faces = None
    if args.faces:
        from cropaudit.datasets.table import read_table
        from cropaudit.faces.table import read_faces

        faces = read_faces(args.faces, read_table(args.dataset))
    crops = score_crops(outcomes, ratios, faces)
    singles = None
    if args.image_saliency:
        from cropaudit.stages.image_saliency import read_image_saliency

        singles = image_crops(read_image_saliency(args.image_saliency), ratios, faces)
    try:
        write_parquet(crops, args.out)
        if singles is not None:
            write_parquet(singles, args.image_crops_out)
    except BaseException:
        remove_outputs(*(p for p in (args.out, args.image_crops_out) if p))
        raise
    print(f"{args.out}: {len(crops)} member crops at {len(ratios)} ratios")
    if singles is not None:
        print(f"{args.image_crops_out}: {len(singles)} single-image crops")
    return 0
