"""Reading the stats stage's inputs: the outcomes table and the stats CSVs, with clear errors."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from cropaudit.contracts import read_stage_table
from cropaudit.errors import ConfigError, InputFileError
from cropaudit.stats.outcomes import REQUIRED
from cropaudit.stats.params import StatsParams


def read_outcomes(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The saliency outcomes parquet, checked for the data contract's columns."""
    return read_stage_table(path, REQUIRED, what="outcomes table", producer="gather")


def read_table(path: str | os.PathLike[str], required: bool = True) -> pd.DataFrame:
    """A CSV written by the stats stage (an empty file reads as an empty table)."""
    p = Path(path)
    if not p.is_file():
        if required:
            raise InputFileError(f"{p}: not found (run `cropaudit stats` first)")
        return pd.DataFrame()
    try:
        return pd.read_csv(p, keep_default_na=True)
    except pd.errors.EmptyDataError:
        return pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{p}: not a readable CSV ({exc.__class__.__name__})") from None


def check_aggregates(stats: StatsParams, attributes: list[str]) -> None:
    """Every aggregate must name a configured group attribute."""
    for i, agg in enumerate(stats.aggregates):
        if agg.attribute not in attributes:
            raise ConfigError(
                f"stats.aggregates.{i}.attribute: {agg.attribute!r} is not one of "
                f"dataset.groups.attributes {attributes}"
            )
