"""The ``cropaudit`` command line.

Every pipeline stage is a sub-command with explicit input and output paths, so Snakemake, DVC,
a notebook and a user at the shell all run the same code. Each sub-command lives in
``cropaudit/commands/<name>.py`` and defines ``HELP``, ``configure(parser)`` and ``run(args)``;
those modules import heavy libraries (TensorFlow, MLflow) inside ``run`` so that ``--help``
stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from cropaudit import __version__
from cropaudit.errors import CropauditError

#: sub-command name -> module under ``cropaudit.commands``
COMMANDS: dict[str, str] = {
    "saliency": "saliency",
    "croppers": "croppers",
    "fetch-model": "fetch_model",
    "prepare-data": "prepare_data",
    "sample-pairs": "sample_pairs",
    "pair-saliency": "pair_saliency",
    "gather": "gather",
    "score-crops": "score_crops",
    "faces": "faces",
    "image-saliency": "image_saliency",
    "gaze": "gaze",
    "gaze-import": "gaze_import",
    "stats": "stats",
    "compare-croppers": "compare_croppers",
    "probe": "probe",
    "probe-edits": "probe_edits",
    "probe-stats": "probe_stats",
    "plots": "plots",
    "report": "report",
    "log-run": "log_run",
    "log-croppers": "log_croppers",
    "paper-figure": "paper_figure",
    "power": "power",
    "app": "app",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per registered command."""
    parser = argparse.ArgumentParser(
        prog="cropaudit",
        description="Audit saliency-based image cropping for demographic bias.",
    )
    parser.add_argument("--version", action="version", version=f"cropaudit {__version__}")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log debug messages (and tracebacks)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module_name in COMMANDS.items():
        module = importlib.import_module(f"cropaudit.commands.{module_name}")
        doc = (module.__doc__ or "").strip()
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=doc or module.HELP,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        module.configure(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: run one sub-command; user errors become one line on stderr."""
    # TensorFlow's C++ logging (oneDNN notices, CUDA probing) is noise for users; must be set
    # before TensorFlow is first imported.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args._run(args) or 0)
    except CropauditError as exc:
        if args.verbose:
            logging.exception("failed")
        print(f"cropaudit {args.command}: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print(f"cropaudit {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
