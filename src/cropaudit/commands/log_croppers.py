"""Record a cropper comparison in MLflow: one parent run, one child run per cropper.

The parent run holds the comparison (compare-croppers' folder and metrics: Δ by cropper,
agreement, McNemar, bootstrap); each child run holds one cropper's stats metrics — the same
keys for every cropper, so MLflow's compare view lines them up — with its tables and figures,
and tags naming the cropper's version and licence. Writes --out: the runs' ids (JSON).

As for log-run: a server that does not answer is refused in one line (exit 3), every MLflow
call has tracking.call_deadline_s, and runs interrupted by Ctrl-C, SIGTERM or SIGHUP are
marked FAILED.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import WHOLE_FILE, ParamKeys

HELP = "log a cropper comparison to MLflow (parent run + one child run per cropper)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = (WHOLE_FILE,)  # logs every parameter to MLflow


def configure(parser: argparse.ArgumentParser) -> None:
    from cropaudit.commands.compare_croppers import _named_path

    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--comparison-dir", required=True, type=Path,
                        help="compare-croppers' folder")
    parser.add_argument("--comparison-metrics", required=True, type=Path,
                        help="compare-croppers' metrics JSON")
    parser.add_argument("--cropper-dir", nargs="+", required=True, type=_named_path,
                        metavar="NAME=DIR",
                        help="each cropper's results folder (metrics.json, stats/, figures/)")
    parser.add_argument("--out", required=True, type=Path, help="JSON record of the runs")


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from cropaudit.config import DEFAULT_PARAMS_FILE, load_params
    from cropaudit.croppers.registry import available
    from cropaudit.outputs import write_json
    from cropaudit.reporting.tracking import CropperRun, log_cropper_runs

    params = load_params(args.params)
    specs = available(warn=False)
    runs = []
    for name, folder in args.cropper_dir:
        spec = specs.get(name)
        tags = {"cropper.version": spec.version(), "cropper.licence": spec.licence,
                "cropper.has_map": str(spec.has_map).lower()} if spec else {}
        runs.append(CropperRun(name, folder / "metrics.json", folder / "stats",
                               folder / "figures", tags))
    record = log_cropper_runs(
        params=params, params_path=Path(args.params or DEFAULT_PARAMS_FILE),
        comparison_dir=args.comparison_dir, comparison_metrics=args.comparison_metrics,
        croppers=runs,
    )
    write_json(args.out, record)
    print(f"MLflow parent run {record['parent_run_id']} with {len(runs)} child runs at "
          f"{record['tracking_uri']}")
    return 0
