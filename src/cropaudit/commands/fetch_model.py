"""Download Twitter's fastgaze.vxm from its pinned public URL and verify its sha256.

If the environment variable CROPAUDIT_FASTGAZE (or model.local_path in params.yaml) names a
local copy, that file is verified and copied instead, so offline machines and CI never need
the network. An already present, verified file is left alone.
"""

from __future__ import annotations

import argparse

from cropaudit.commands.declared import ParamKeys

HELP = "download (or copy) the FastGaze model and verify its sha256"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("model.url", "model.sha256", "model.local_path")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--out", default=None, help="destination (default: model.path)")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.engine.model_store import fetch_model

    params = load_params(args.params)
    path = fetch_model(params.model, args.out)
    print(path)
    return 0
