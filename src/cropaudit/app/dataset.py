"""The current dataset table as a list to pick images from (``data/<dataset>/images.parquet``).

The table is re-read only when its file changes, so a ``prepare-data`` run while the app is
open shows up on the next page load without slowing every request.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from cropaudit.datasets.table import image_path, read_table
from cropaudit.errors import CropauditError


@dataclass(frozen=True)
class DatasetView:
    """Images of the dataset table (empty with a message when there is no usable table)."""

    path: Path
    table: pd.DataFrame | None = field(default=None, repr=False)
    message: str = ""

    @property
    def available(self) -> bool:
        return self.table is not None

    def options(self) -> list[dict[str, str]]:
        """Dropdown options: ``image_id · group · W×H``, valued by image_id."""
        if self.table is None:
            return []
        return [
            {
                "label": f"{row.image_id} · {row.group} · {row.width}×{row.height}",
                "value": str(row.image_id),
            }
            for row in self.table.itertuples(index=False)
        ]

    def image(self, image_id: str) -> tuple[Path, str]:
        """(file path, group) of one image of the table."""
        if self.table is None:
            raise CropauditError(self.message or f"{self.path}: no dataset table")
        rows = self.table[self.table["image_id"].astype(str) == str(image_id)]
        if rows.empty:
            raise CropauditError(f"{self.path}: no image with image_id {image_id!r}")
        row = rows.iloc[0]
        return image_path(self.path, str(row["path"])), str(row["group"])


class DatasetSource:
    """Reads the dataset table lazily and again only when its modification time changes."""

    def __init__(self, dataset_name: str, root: str | os.PathLike[str] = ".") -> None:
        self.path = Path(root) / "data" / dataset_name / "images.parquet"
        self._stamp: float | None = None
        self._view: DatasetView | None = None
        self._lock = threading.Lock()

    def view(self) -> DatasetView:
        try:
            stamp = self.path.stat().st_mtime
        except OSError:
            return DatasetView(
                self.path,
                message=f"No dataset table at {self.path}: run `cropaudit prepare-data`, "
                "or upload images.",
            )
        with self._lock:
            if self._view is None or stamp != self._stamp:
                try:
                    self._view = DatasetView(self.path, read_table(self.path))
                except CropauditError as exc:
                    self._view = DatasetView(self.path, message=str(exc))
                self._stamp = stamp
            return self._view
