"""Building the Dash app from params: the store, models, cache and page, wired together.

Dash serves its JavaScript bundles from the installed package (``serve_locally``) and the
page uses only the local stylesheet in ``assets/``: the app works on a machine without
internet, and no page load reaches a CDN.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

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
    """The audit's primary cropper where the app offers it (else FastGaze), or the center
    baseline when FastGaze has no model file."""
    from cropaudit.app.analysis import BACKENDS

    backend = params.primary_cropper if params.primary_cropper in BACKENDS else "fastgaze"
    if backend == "fastgaze" and not models.status("fastgaze")[0]:
        return "center"
    return backend


def create_app(
    params: Params | None = None,
    model_path: str | os.PathLike[str] | None = None,
    *,
    root: str | os.PathLike[str] = ".",
    temp_root: str | os.PathLike[str] | None = None,
    serve_host: str | None = None,
) -> ExplorerApp:
    """The crop explorer for ``params``; ``root`` is where ``data/<dataset>/`` is looked for.

    ``serve_host`` (the interface served on, when it is a name or address rather than a
    wildcard) is accepted in Host headers besides ``app.allowed_hosts``.
    """
    params = params or Params()
    models = ModelRegistry(params.model, model_path)
    store = ImageStore(
        params.app.max_upload_pixels,
        params.model.max_pixels,
        max_bytes=int(params.app.max_upload_mb * 2**20),
        root=temp_root,
        max_images=params.app.max_stored_images,
        max_store_bytes=int(params.app.max_store_mb * 2**20),
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
    guard_hosts(app, [*params.app.allowed_hosts, *([serve_host] if serve_host else [])])
    return ExplorerApp(app, explorer, store)


#: Interfaces that mean "every address": not a name a browser would send in Host.
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


def _host_name(netloc: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the lower-case host name."""
    parsed = urlsplit(f"//{netloc}")
    return (parsed.hostname or "").lower()


def guard_hosts(app: Dash, allowed: Iterable[str]) -> None:
    """Answer 403 to requests whose Host (or Origin) is not one of ``allowed``.

    A page on attacker.example can rebind its DNS name to 127.0.0.1 and then script the app
    from the user's browser; its requests still carry ``Host: attacker.example``. Checking
    Host and Origin against the names the app is served under stops that (DNS rebinding).
    """
    from flask import abort, request

    names = {h.strip("[]").lower() for h in allowed if h not in WILDCARD_HOSTS}

    @app.server.before_request
    def _check_host() -> None:
        if _host_name(request.host) not in names:
            abort(403, description="unknown Host (add it to app.allowed_hosts to allow it)")
        origin = request.headers.get("Origin")
        if origin and origin != "null" and _host_name(urlsplit(origin).netloc) not in names:
            abort(403, description="cross-origin request refused")
