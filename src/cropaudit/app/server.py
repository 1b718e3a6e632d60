"""Building the Dash app from params: the store, models, cache and page, wired together.

Dash serves its JavaScript bundles from the installed package (``serve_locally``) and the
page uses only the local stylesheet in ``assets/``: the app works on a machine without
internet, and no page load reaches a CDN.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from dash import Dash

from cropaudit.app.analysis import Analyzer, ModelRegistry, ResultCache
from cropaudit.app.callbacks import Explorer, register
from cropaudit.app.dataset import DatasetSource
from cropaudit.app.images import ImageStore
from cropaudit.app.layout import build_layout
from cropaudit.config import Params

ASSETS = Path(__file__).with_name("assets")


@dataclass
class ExplorerApp:
    """The Dash app and the service objects behind it (tests reach them directly)."""

    dash: Dash
    explorer: Explorer
    store: ImageStore

    def close(self) -> None:
        self.store.close()


def default_backend(params: Params, models: ModelRegistry) -> str:
    """The configured backend, or the center baseline when FastGaze has no model file."""
    backend = params.model.backend
    if backend == "fastgaze" and not models.status("fastgaze")[0]:
        return "center"
    return backend


def create_app(
    params: Params | None = None,
    model_path: str | os.PathLike[str] | None = None,
    *,
    root: str | os.PathLike[str] = ".",
    temp_root: str | os.PathLike[str] | None = None,
) -> ExplorerApp:
    """The crop explorer for ``params``; ``root`` is where ``data/<dataset>/`` is looked for."""
    params = params or Params()
    models = ModelRegistry(params.model, model_path)
    store = ImageStore(
        params.app.max_upload_pixels,
        params.model.max_pixels,
        max_bytes=int(params.app.max_upload_mb * 2**20),
        root=temp_root,
    )
    analyzer = Analyzer(store, models, ResultCache(params.app.cache_size))
    dataset = DatasetSource(params.dataset.dataset_name, root)
    explorer = Explorer(analyzer, dataset, params.app.top_k)

    app = Dash(
        __name__,
        title="cropaudit · crop explorer",
        assets_folder=str(ASSETS),
        serve_locally=True,
        update_title=None,  # type: ignore[arg-type]  # None turns the title off; Dash annotates str
    )
    app.layout = lambda: build_layout(
        params.app, dataset.view(), models, default_backend(params, models)
    )
    register(app, explorer)
    return ExplorerApp(app, explorer, store)
