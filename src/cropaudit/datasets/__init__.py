"""Dataset sources that all yield one table schema (:mod:`cropaudit.datasets.table`).

Each source is a module with a ``build(params, out_path) -> pandas.DataFrame`` function that
writes its images under the dataset folder and returns the validated table. ``SOURCES`` maps
``dataset.source`` to that function's module so ``prepare-data`` can dispatch without importing
every source (some pull in network code).
"""

from __future__ import annotations

SOURCES: dict[str, str] = {
    "demo": "cropaudit.datasets.demo",
    "wikiceleb": "cropaudit.datasets.wikiceleb",
    "folder": "cropaudit.datasets.manifest",
    "csv": "cropaudit.datasets.manifest",
}
