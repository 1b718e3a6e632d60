"""Record the finished run in MLflow: params, metrics, artifacts, provenance tags.

Tracking store: $MLFLOW_TRACKING_URI, else tracking.uri in params.yaml, else
sqlite:///mlflow.db in the working directory (artifacts in mlruns/ beside it). Logs params.yaml
flattened, every number of --metrics (one or more files), the stats tables, figures, report
and every --artifacts folder as artifacts, the dataset table as an MLflow dataset input
(digest), and tags: git commit + dirty flag, model sha256, package versions. --out receives
the run id and where to find it.

Idempotent: the same inputs (params, metrics, dataset, model, commit) are logged once; a
second call reports the existing run (--new logs another). A remote server is probed first:
if it does not answer within seconds the command fails with one line (exit 3) and the results
stay on disk, to be logged later by running the same command again. An interrupted run
(Ctrl-C, SIGTERM, SIGHUP) is marked FAILED.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import WHOLE_FILE, ParamKeys

HELP = "log the run to MLflow (params, metrics, figures, tables, report, provenance)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = (WHOLE_FILE,)  # logs every parameter to MLflow


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--dataset", required=True, type=Path, help="dataset table")
    parser.add_argument("--metrics", required=True, type=Path, nargs="+",
                        help="metrics JSON file(s): stats, gaze (top-level keys must differ)")
    parser.add_argument("--stats-dir", type=Path, default=None, help="stats tables folder")
    parser.add_argument("--figures-dir", type=Path, default=None, help="figures folder")
    parser.add_argument("--report", type=Path, default=None, help="HTML report")
    parser.add_argument("--model", type=Path, default=None, help="model file (sha256 tag)")
    parser.add_argument("--artifacts", type=Path, nargs="*", default=[],
                        help="further folders to log, each under its own name (e.g. results/gaze)")
    parser.add_argument("--out", required=True, type=Path, help="JSON record of the run")
    parser.add_argument("--new", action="store_true",
                        help="log a new run even if these inputs were logged before")


def run(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    from cropaudit.config import DEFAULT_PARAMS_FILE, load_params
    from cropaudit.outputs import write_json
    from cropaudit.reporting.tracking import log_run, record_dict

    params = load_params(args.params)
    record, reused = log_run(
        params=params,
        params_path=Path(args.params or DEFAULT_PARAMS_FILE),
        metrics_path=args.metrics,
        dataset_path=args.dataset,
        stats_dir=args.stats_dir,
        figures_dir=args.figures_dir,
        report_path=args.report,
        model_path=args.model,
        artifact_dirs=args.artifacts,
        new=args.new,
    )
    write_json(args.out, record_dict(record))
    already = " (these inputs were logged before; --new logs another run)" if reused else ""
    print(f"MLflow run {record.run_id} in experiment {record.experiment!r} at "
          f"{record.tracking_uri}{already}")
    return 0
