"""Read a filled-in review sheet template back and measure human vs automatic agreement.

FILE is the review.csv written by `cropaudit gaze` with the reviewers' answers: max_on_face
(face / elsewhere / no_face), crop_<ratio> (full / partial / none / no_face) and
other_salient_region (yes / no / no_face). Blank answers count as not reviewed; case, spaces
and hyphens do not matter ("No face" = no_face). Every question column must be kept (a
renamed or deleted one is refused, not skipped). The file may be UTF-8 (with or without BOM) or
UTF-16 with a BOM; other encodings are refused naming the row. A malformed file is refused with
one line naming the row as a spreadsheet numbers it (the header is row 1).

Prints, per question, how many images both people and the automatic labels judged, the
share they agree on and Cohen's kappa with its 95 % interval, then the confusion tables
(rows: human, columns: automatic). --out-dir also writes agreement.csv and confusion.csv.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "read filled-in gaze review labels; agreement with the automatic labels (Cohen's kappa)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="filled-in review.csv")
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--labels", type=Path, default=None,
                        help="automatic labels of the gaze stage (default: the report's "
                             "cropper's, results/croppers/<primary>/gaze/labels.csv)")
    parser.add_argument("--out-dir", type=Path, default=None,
                        help="write agreement.csv and confusion.csv here")


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from cropaudit.config import load_params
    from cropaudit.errors import InputFileError
    from cropaudit.gaze.review import agreement, read_review
    from cropaudit.outputs import atomic_path

    params = load_params(args.params)
    if args.labels is None:
        args.labels = Path("results/croppers") / params.primary_cropper / "gaze" / "labels.csv"
    if not args.labels.is_file():
        raise InputFileError(f"{args.labels}: automatic labels not found (run `cropaudit gaze`)")
    automatic = pd.read_csv(args.labels, dtype=str, keep_default_na=False)
    if "image_id" not in automatic.columns:
        raise InputFileError(f"{args.labels}: not a labels.csv written by `cropaudit gaze`")
    automatic = automatic.set_index("image_id")
    ratios = params.crops.aspect_ratios
    human = read_review(args.file, automatic, ratios)
    summary, confusion = agreement(human, automatic, ratios)
    print(f"{args.file}: {len(human)} reviewed image(s)")
    with pd.option_context("display.width", 120, "display.max_columns", 20):
        shown = summary[["question", "n", "agree", "observed_agreement", "kappa", "kappa_low",
                         "kappa_high"]]
        print(shown.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
        for question, part in confusion.groupby("question", sort=False):
            table = part.pivot(index="human", columns="automatic", values="count")
            print(f"\n{question} (rows: human, columns: automatic)")
            print(table.to_string())
    if args.out_dir is not None:
        for name, df in (("agreement", summary), ("confusion", confusion)):
            with atomic_path(args.out_dir / f"{name}.csv") as tmp:
                df.to_csv(tmp, index=False)
            print(f"wrote {args.out_dir / f'{name}.csv'}")
    return 0
