"""Detect the faces of every dataset image once and keep them as a table (faces stage).

Runs MTCNN (the mtcnn package, on TensorFlow; its weights ship inside the package and are
never downloaded) on each image's upright pixels, decoded like the saliency engine decodes
them (EXIF orientation). Writes one row per face kept (confidence >= faces.min_confidence),
ranked: rank 0 ("primary") is the face later stages score — the largest box by default
(faces.primary). An image without any face keeps one row with n_faces = 0 and no box.
Columns: docs/data-contracts.md.
"""

from __future__ import annotations

import argparse

from cropaudit.commands.declared import ParamKeys

HELP = "face boxes and landmarks of every dataset image (data/<dataset>/faces.parquet)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("faces", "model.max_pixels")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--dataset", required=True, help="dataset table (prepare-data)")
    parser.add_argument("--out", required=True, help="faces table to write")
    parser.add_argument("--progress", action="store_true", help="progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.datasets.table import read_table
    from cropaudit.engine.model_store import sha256_file
    from cropaudit.faces.detect import detect_faces, detector_version, load_detector
    from cropaudit.faces.table import summary
    from cropaudit.outputs import write_parquet

    params = load_params(args.params)
    table = read_table(args.dataset)
    detector = load_detector(params.faces)
    faces = detect_faces(table, args.dataset, detector, params.faces,
                         hard_limit=params.model.max_pixels,
                         progress=True if args.progress else None)
    write_parquet(faces, args.out, {
        "detector": detector_version(), "faces": params.faces.model_dump(mode="json"),
        "dataset_sha256": sha256_file(args.dataset),
    })
    s = summary(faces)
    print(f"{args.out}: {s['faces']} faces; a face in {s['with_face']} of {s['images']} images "
          f"({s['detection_rate']:.1%})")
    return 0
