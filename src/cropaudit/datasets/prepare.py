"""``prepare-data``: dispatch to the configured source, check its table, write it.

The checks that hold for every source live here, once: required columns, attribute columns,
group labels consistent with the attributes, unique image ids, and small groups dropped.
"""

from __future__ import annotations

import importlib
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cropaudit.datasets import SOURCES
from cropaudit.datasets.table import BASE_COLUMNS, group_label, write_table
from cropaudit.errors import ConfigError, InputFileError

if TYPE_CHECKING:
    from cropaudit.config import Params

log = logging.getLogger(__name__)

DATA_DIR = "data"
TABLE_NAME = "images.parquet"
IMAGES_DIR = "images"


def default_table_path(params: Params) -> Path:
    """``data/<dataset>/images.parquet``."""
    return Path(DATA_DIR) / params.dataset.dataset_name / TABLE_NAME


def check_table(df: pd.DataFrame, params: Params, where: str) -> pd.DataFrame:
    """Validate a source's table and drop groups smaller than ``min_group_size``."""
    attributes = list(params.dataset.groups.attributes)
    missing = [c for c in (*BASE_COLUMNS, *attributes) if c not in df.columns]
    if missing:
        raise InputFileError(f"{where}: dataset table lacks columns {', '.join(missing)}")
    expected = df[attributes].astype(str).apply(lambda r: group_label(tuple(r)), axis=1)
    if len(df) and not (expected == df["group"].astype(str)).all():
        raise InputFileError(f"{where}: column 'group' does not match attributes {attributes}")
    dupes = df["image_id"][df["image_id"].duplicated()]
    if not dupes.empty:
        raise InputFileError(f"{where}: image id {dupes.iloc[0]!r} appears more than once")
    sizes = df["group"].value_counts()
    small = sizes[sizes < params.dataset.groups.min_group_size]
    if not small.empty:
        log.warning("dropping groups with fewer than %d images: %s",
                    params.dataset.groups.min_group_size, ", ".join(small.index))
        df = df[~df["group"].isin(small.index)]
    if df.empty:
        raise InputFileError(f"{where}: no images left in the dataset")
    return df.reset_index(drop=True)


def prepare_dataset(params: Params, out: str | os.PathLike[str]) -> pd.DataFrame:
    """Build, check and atomically write the dataset table of ``dataset.source``."""
    source = params.dataset.source
    if source not in SOURCES:
        raise ConfigError(
            f"dataset.source: {source!r} is not available here "
            f"(available: {', '.join(sorted(SOURCES))})"
        )
    module = importlib.import_module(SOURCES[source])
    table = check_table(module.build(params, out), params, f"dataset source {source!r}")
    # The workflow declares the images folder as an output for every source, also for
    # sources whose table points at images elsewhere.
    (Path(out).parent / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    write_table(table, out)
    return table
