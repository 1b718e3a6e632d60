"""Build the dataset table for the configured source (dataset.source in params.yaml).

Each source (demo, and the real sources of cropaudit.datasets.prepare.SOURCES) writes its images
under the table's folder and returns one table schema (docs/data-contracts.md). The table is checked
here, whatever the source: required columns, group attributes, unique image ids, groups with
fewer than dataset.groups.min_group_size images dropped. It is written only when complete.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from cropaudit.commands.declared import ParamKeys

if TYPE_CHECKING:
    from cropaudit.config import Params

HELP = "build data/<dataset>/images.parquet for the configured dataset source"


def PARAMS(params: Params) -> ParamKeys:  # the declaration every command has (upper case)
    """params.yaml keys read (cropaudit.commands.declared): only the configured source's own.

    Every source checks its images against ``model.max_pixels``; wikiceleb draws its
    per-group subset with the master seed.
    """
    section = f"dataset.{params.dataset.source_section}"
    keys = ("dataset.source", "dataset.groups", section, "model.max_pixels")
    return (*keys, "seed") if params.dataset.source == "wikiceleb" else keys


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument(
        "--out", default=None, help="table path (default: data/<dataset>/images.parquet)"
    )


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.datasets.prepare import default_table_path, prepare_dataset

    params = load_params(args.params)
    out = args.out or default_table_path(params)
    table = prepare_dataset(params, out)
    groups = table["group"].value_counts().sort_index()
    print(f"{out}: {len(table)} images in {len(groups)} groups "
          f"({', '.join(f'{g} {n}' for g, n in groups.items())})")
    return 0
