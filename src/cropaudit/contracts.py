"""The tables stages pass to each other (docs/data-contracts.md), and reading them safely.

Each stage checks its input tables on entry, so a missing file or a table from an older
version fails at once with one line naming the file and the command that makes it, instead
of a KeyError deep inside a computation. The names inside the tables follow one contract
too: a comparison is its groups' labels joined by :data:`COMPARISON_SEP`, and a key of
metrics.json (and of the MLflow run logged from it) is made valid by :func:`metric_key`.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from cropaudit.errors import InputFileError

if TYPE_CHECKING:  # pandas is imported where a table is read: every command's start-up
    import pandas as pd  # (the CLI, params validation) needs only the names above

#: Separator of group labels inside a comparison's name (``marked_a~plain_a``). Group
#: attribute values may not contain it (``prepare-data`` rejects them).
COMPARISON_SEP = "~"

#: MLflow's longest metric and parameter key.
MAX_KEY_LENGTH = 250
#: Characters MLflow refuses in metric and parameter keys.
_INVALID_KEY_CHARS = re.compile(r"[^\w\-. /:]")


def metric_key(name: str) -> str:
    """A valid MLflow key: comparison separators read ``-vs-``, other odd characters ``_``.

    MLflow also refuses a key that a file path would normalise to another (``a//b``,
    ``a/./b``, ``/a``: a group named after a URL makes one), so an empty, ``.`` or ``..``
    part between slashes becomes underscores.
    """
    key = _INVALID_KEY_CHARS.sub("_", name.replace(COMPARISON_SEP, "-vs-"))
    key = "/".join(part if part.strip(".") else "_" * max(1, len(part))
                   for part in key.split("/"))
    if len(key) <= MAX_KEY_LENGTH:
        return key
    # long group names (FairFace's interactions) make keys over MLflow's limit: keep the
    # start, readable, and end with a digest of the whole so two keys stay two
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return f"{key[:MAX_KEY_LENGTH - 13].rstrip('/')}-{digest}"


#: Subfolder of a stage's output folder holding what the report shows, derived by that stage
#: (the stats stage's crop retention and face rate tables, the gaze stage's rates and
#: differences, compare-croppers' sentences), so the report only renders.
FINDINGS_DIR = "findings"


def findings_path(folder: str | os.PathLike[str], name: str) -> Path:
    """Where a stage writes the finding ``name`` (``retention.csv``, ...) of its ``folder``."""
    return Path(folder) / FINDINGS_DIR / name


#: Pairs table (``sample-pairs``): one row per member of a sampled tuple.
PAIRS_COLUMNS: tuple[str, ...] = (
    "tuple_id", "base_id", "order", "comparison", "kind", "k", "layout", "scaling",
    "scaling_size", "padding", "composite_width", "composite_height", "position",
    "image_id", "group", "x", "y", "width", "height", "scale",
)
#: Columns the saliency stage adds to the pairs table.
OUTCOME_COLUMNS: tuple[str, ...] = (
    "model", "salient_x", "salient_y", "won", "score_max", "score_p95", "score_p50",
    "score_mean",
)
#: Crops table (``score-crops``): one row per member and aspect ratio.
CROP_COLUMNS: tuple[str, ...] = (
    "tuple_id", "comparison", "kind", "position", "image_id", "group", "won",
    "aspect_ratio", "crop_left", "crop_top", "crop_width", "crop_height", "retention",
)
#: Columns ``score-crops`` adds to the crops table when a faces table is given.
CROP_FACE_COLUMNS: tuple[str, ...] = (
    "has_face", "face_left", "face_top", "face_width", "face_height", "salient_in_face",
    "face_retention", "face_kept",
)
#: Faces table (``faces``): one row per detected face, or one row for an image without any.
FACE_COLUMNS: tuple[str, ...] = (
    "image_id", "group", "image_width", "image_height", "n_faces", "face_index", "primary",
    "x", "y", "width", "height", "confidence",
    "left_eye_x", "left_eye_y", "right_eye_x", "right_eye_y", "nose_x", "nose_y",
    "mouth_left_x", "mouth_left_y", "mouth_right_x", "mouth_right_y",
)
#: Single-image saliency (``image-saliency``): one row per dataset image, with its grid.
IMAGE_SALIENCY_COLUMNS: tuple[str, ...] = (
    "image_id", "group", "width", "height", "model", "salient_x", "salient_y", "symmetric",
    "grid_rows", "grid_cols", "grid_x", "grid_y", "scores",
)
#: Single-image crops (``score-crops``): one row per dataset image and aspect ratio.
IMAGE_CROP_COLUMNS: tuple[str, ...] = (
    "image_id", "group", "width", "height", "salient_x", "salient_y", "aspect_ratio",
    "crop_left", "crop_top", "crop_width", "crop_height", *CROP_FACE_COLUMNS,
)


def read_stage_table(
    path: str | os.PathLike[str], columns: Sequence[str], *, what: str, producer: str
) -> pd.DataFrame:
    """Read a parquet table written by ``producer``, checking that ``columns`` are present."""
    p = Path(path)
    if not p.is_file():
        raise InputFileError(f"{p}: {what} not found (run `cropaudit {producer}`)")
    import pandas as pd

    try:
        df = pd.read_parquet(p)
    except Exception as exc:  # pyarrow raises several types for corrupt files
        raise InputFileError(f"{p}: not a readable parquet table ({type(exc).__name__})") from None
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputFileError(
            f"{p}: {what} lacks columns {', '.join(missing)} (re-run `cropaudit {producer}`)"
        )
    return df


def read_pairs(path: str | os.PathLike[str]) -> pd.DataFrame:
    """The pairs table, checked for the data contract's columns."""
    return read_stage_table(path, PAIRS_COLUMNS, what="pairs table", producer="sample-pairs")


def read_outcomes(
    path: str | os.PathLike[str], columns: Sequence[str] = PAIRS_COLUMNS + OUTCOME_COLUMNS
) -> pd.DataFrame:
    """The saliency outcomes table, checked for ``columns`` (by default the whole contract).

    A reader that needs fewer columns (the stats stage) names them, so that outcomes from
    another tool with only those columns can still be analysed.
    """
    return read_stage_table(path, columns, what="outcomes table", producer="gather")


#: Columns of the stages' CSV tables that hold names from the data (groups, attribute values,
#: comparisons, settings, croppers, images): read as text, so a group called ``1`` or ``NA``
#: stays that name instead of becoming a number or a missing value.
NAME_COLUMNS = (
    "setting", "comparison", "members", "group", "group_a", "group_b", "label", "panel",
    "level", "value", "value_1", "value_2", "reference", "reference_group", "by", "gap",
    "attribute", "first", "second", "cropper", "image_id", "term", "explanation",
)


def read_stats_table(path: str | os.PathLike[str], required: bool = True, *,
                     producer: str = "stats", allow_empty: bool = True) -> pd.DataFrame:
    """A CSV table written by a stage (stats, gaze, compare-croppers, probe-stats).

    An empty file reads as an empty table (no together tuples, no interactions, ...) unless
    ``allow_empty`` is false; a missing one is an error only when ``required``.
    """
    import pandas as pd

    p = Path(path)
    if not p.is_file():
        if required:
            raise InputFileError(f"{p}: not found (run `cropaudit {producer}` first)")
        return pd.DataFrame()
    try:
        # only an empty cell is missing: a group called "NA", "null" or "None" stays a name
        table = pd.read_csv(p, keep_default_na=False, na_values=[""],
                            dtype=dict.fromkeys(NAME_COLUMNS, str))
    except pd.errors.EmptyDataError:
        table = pd.DataFrame()
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{p}: not a readable CSV ({exc.__class__.__name__})") from None
    if not allow_empty and not len(table.columns):
        raise InputFileError(f"{p}: empty table (re-run `cropaudit {producer}`)")
    return table
