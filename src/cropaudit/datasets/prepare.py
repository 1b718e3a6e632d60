"""``prepare-data``: dispatch to the configured source and check the table it wrote.

Each source module's ``build(params, out_path)`` writes its images and the table (through
:func:`cropaudit.datasets.validate.finalize`, which applies the checks common to every source
and lists excluded images in ``excluded.csv``) and returns the table.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cropaudit.datasets.validate import validate_table
from cropaudit.errors import ConfigError

if TYPE_CHECKING:
    from cropaudit.config import Params

DATA_DIR = "data"
TABLE_NAME = "images.parquet"
IMAGES_DIR = "images"
#: ``dataset.source`` -> the module that builds it, named (not imported) so that only the
#: configured source is loaded, and only ``prepare-data`` depends on the sources' code.
SOURCES: dict[str, str] = {
    "demo": "cropaudit.datasets.demo",
    "wikiceleb": "cropaudit.datasets.wikiceleb",
    "folder": "cropaudit.datasets.manifest",
    "csv": "cropaudit.datasets.manifest",
}


def default_table_path(params: Params) -> Path:
    """``data/<dataset>/images.parquet``."""
    return Path(DATA_DIR) / params.dataset.dataset_name / TABLE_NAME


def prepare_dataset(params: Params, out: str | os.PathLike[str]) -> pd.DataFrame:
    """Build the dataset table of ``dataset.source`` at ``out`` and return it."""
    source = params.dataset.source
    if source not in SOURCES:
        raise ConfigError(
            f"dataset.source: {source!r} is not available here "
            f"(available: {', '.join(sorted(SOURCES))})"
        )
    module = importlib.import_module(SOURCES[source])
    table = module.build(params, out)
    validate_table(table, params.dataset.groups.attributes, where=str(out))
    # The workflow declares the images folder as an output for every source, also for
    # sources whose table points at images elsewhere (manifest `materialize: reference`).
    (Path(out).parent / IMAGES_DIR).mkdir(parents=True, exist_ok=True)
    return table
