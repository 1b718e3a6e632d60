"""Draw the tuples to show the saliency model: every comparison of the sampling section.

For each comparison (all pairs of groups and/or the configured pairs, plus all groups at once)
n tuples are drawn with the master seed, one random image per group; with
sampling.both_orders each tuple is also shown reversed. Writes the pairs table
(docs/data-contracts.md): one row per member with its rectangle in the composite.
"""

from __future__ import annotations

import argparse

from cropaudit.commands.declared import ParamKeys

HELP = "draw the pairs / k-way tuples of every comparison (results/pairs.parquet)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ("seed", "sampling")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default=None, help="params file (default: params.yaml)")
    parser.add_argument("--dataset", required=True, help="dataset table (prepare-data)")
    parser.add_argument("--out", required=True, help="pairs table to write")


def run(args: argparse.Namespace) -> int:
    from cropaudit.config import load_params
    from cropaudit.datasets.table import read_table
    from cropaudit.outputs import write_parquet
    from cropaudit.stages.sample_pairs import sample_pairs

    params = load_params(args.params)
    table = read_table(args.dataset)
    pairs = sample_pairs(table, params.sampling, params.seed)
    write_parquet(pairs, args.out)
    print(f"{args.out}: {pairs['tuple_id'].nunique()} composites in "
          f"{pairs['comparison'].nunique()} comparisons")
    return 0
