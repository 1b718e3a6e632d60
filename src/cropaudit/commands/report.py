"""Write one self-contained HTML report of the run.

Embeds every PNG of --figures-dir, renders summary.md and every CSV of --stats-dir, the crop
retention per group (--crops), the face rates (face_rates.csv of --stats-dir), the gaze
analysis (--gaze-dir: selection, rates, sample review sheets), params.yaml verbatim and the
provenance: code commit and dirty flag, model and dataset digests, package versions. Opens
offline; nothing is linked.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import WHOLE_FILE, ParamKeys

HELP = "self-contained HTML report (figures embedded, tables, params, provenance)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = (WHOLE_FILE,)  # prints params.yaml in full


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--stats-dir", required=True, type=Path, help="stats tables folder")
    parser.add_argument("--figures-dir", required=True, type=Path, help="figures folder")
    parser.add_argument("--crops", type=Path, default=None, help="crops table (score-crops)")
    parser.add_argument("--dataset", type=Path, default=None, help="dataset table (provenance)")
    parser.add_argument("--model", type=Path, default=None, help="model file (provenance)")
    parser.add_argument("--gaze-dir", type=Path, default=None, help="gaze stage folder")
    parser.add_argument("--croppers-dir", type=Path, default=None,
                        help="compare-croppers' folder (section: which croppers disagree)")
    parser.add_argument("--probes-dir", type=Path, default=None,
                        help="probe-stats' folder (section: how fragile each verdict is)")
    parser.add_argument("--out", required=True, help="HTML file to write")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import DEFAULT_PARAMS_FILE, load_params
    from cropaudit.reporting.report import render_report, write_report

    params = load_params(args.params)
    text = render_report(
        params_path=Path(args.params or DEFAULT_PARAMS_FILE),
        params_title=params.report.title,
        max_table_rows=params.report.max_table_rows,
        stats_dir=args.stats_dir,
        figures_dir=args.figures_dir,
        crops_path=args.crops,
        dataset_path=args.dataset,
        model_path=args.model,
        model_backend=params.primary_cropper,
        gaze_dir=args.gaze_dir,
        alpha=params.stats.alpha,
        croppers_dir=args.croppers_dir,
        probes_dir=args.probes_dir,
    )
    print(write_report(args.out, text))
    return 0
