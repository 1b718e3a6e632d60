"""Join the saliency stage's shard files into one outcomes table.

Refuses an incomplete set (a missing shard), shards of different shard counts or from a
different pairs table, so a partial run can never pass for a complete one.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from cropaudit.commands.declared import ParamKeys

HELP = "join saliency shards into results/croppers/<cropper>/saliency.parquet (checks completeness)"

#: params.yaml keys read (cropaudit.commands.declared)
PARAMS: ParamKeys = ()  # joins shard files; reads no parameters


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, help="outcomes table to write")
    parser.add_argument("shards", nargs="+", type=Path, metavar="SHARD", help="shard files")


def run(args: argparse.Namespace) -> int:
    from cropaudit.outputs import write_parquet
    from cropaudit.stages.pair_saliency import gather

    df = gather(list(args.shards))
    write_parquet(df, args.out)
    print(f"{args.out}: {df['tuple_id'].nunique()} composites from {len(args.shards)} shards")
    return 0
