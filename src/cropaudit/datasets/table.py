"""The dataset table: one row per usable image, the same schema for every source.

Paths are stored relative to the table's own directory so a dataset folder can be moved,
versioned by DVC or copied to a cluster without rewriting it. Group attributes (e.g. ``race``,
``gender``) are ordinary columns named by ``dataset.groups.attributes``; ``group`` is their
values joined by ``_`` (``black_female``), the label comparisons are made between.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from cropaudit.contracts import read_stage_table
from cropaudit.errors import InputFileError
from cropaudit.outputs import atomic_path

#: Columns every dataset table has, whatever its source (attribute columns come on top).
BASE_COLUMNS: tuple[str, ...] = (
    "image_id",     # unique, stable across runs (e.g. Wikidata QID, file stem)
    "path",         # image file, relative to the table's directory
    "width",        # pixels, after EXIF orientation
    "height",
    "sha256",       # of the image file; duplicates are excluded on this
    "group",        # attribute values joined by "_"
    "source",       # demo | wikiceleb | folder | csv
    "source_url",   # where the file came from ("" for generated/local)
    "file_name",    # original file name (e.g. Commons file name)
    "license",      # licence short name (e.g. "CC BY-SA 4.0"); "" if unknown
    "artist",       # author / attribution as given by the source
    "attribution",  # ready-to-print credit line
)

GROUP_SEPARATOR = "_"


def group_label(values: list[str] | tuple[str, ...]) -> str:
    """Group label from attribute values in configured order, e.g. ("black", "female")."""
    return GROUP_SEPARATOR.join(str(v) for v in values)


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Write the table atomically (parquet), columns in schema order first."""
    ordered = [c for c in BASE_COLUMNS if c in df.columns] + [
        c for c in df.columns if c not in BASE_COLUMNS
    ]
    with atomic_path(path) as tmp:
        df[ordered].to_parquet(tmp, index=False)
    return Path(path)


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a dataset table, failing with one line if it is missing or lacks columns."""
    df = read_stage_table(path, BASE_COLUMNS, what="dataset table", producer="prepare-data")
    if df.empty:
        raise InputFileError(f"{path}: dataset table is empty")
    return df


def image_path(table_path: str | os.PathLike[str], relative: str) -> Path:
    """Absolute path of an image listed in the table at ``table_path``."""
    return Path(table_path).parent / relative
