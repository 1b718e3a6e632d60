"""Building the Dash app from params: the store, models, cache and page, wired together.

Dash serves its JavaScript bundles from the installed package (``serve_locally``) and the
page uses only the local stylesheet in ``assets/``: the app works on a machine without
internet, and no page load reaches a CDN.
"""

from __future__ import annotations

import math
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
from cropaudit.app.params import AppParams
from cropaudit.config import Params

ASSETS = Path(__file__).with_name("assets")
#: Room in an upload request for what is not the file: the JSON envelope of Dash's callback,
#: the file's name, the data-URL prefix and the list of images already stored.
REQUEST_OVERHEAD_BYTES = 2**20


def request_limit_bytes(params: AppParams) -> int:
    """Largest request body the server reads: one image file at ``app.max_upload_mb``,
    base64-encoded (4/3 of its size) in Dash's JSON, plus :data:`REQUEST_OVERHEAD_BYTES`.

    A drop of several files travels in one request, so they share this limit.
    """
    return math.ceil(params.max_upload_mb * 2**20 * 4 / 3) + REQUEST_OVERHEAD_BYTES


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
    limit_requests(app, request_limit_bytes(params.app))
    guard_hosts(app, [*params.app.allowed_hosts, *([serve_host] if serve_host else [])])
    return ExplorerApp(app, explorer, store)


def limit_requests(app: Dash, max_bytes: int) -> None:
    """Refuse a request body over ``max_bytes`` (413) from its headers, before reading it.

    Flask's ``MAX_CONTENT_LENGTH`` acts only when the body is read (Dash reads all of it into
    memory, then parses it as JSON), so the announced length is checked first. A body sent
    without a length (chunked) could not be checked before it is read: it is refused (411);
    browsers send the length of what Dash posts.
    """
    from flask import abort, request

    app.server.config["MAX_CONTENT_LENGTH"] = max_bytes
    limit_mb = max_bytes / 2**20

    @app.server.before_request
    def _check_size() -> None:
        if request.content_length is None and request.headers.get("Transfer-Encoding"):
            abort(411, description="a request body needs a Content-Length")
        if request.content_length is not None and request.content_length > max_bytes:
            abort(413, description=f"request larger than {limit_mb:.0f} MB: drop fewer or "
                  "smaller images at once (app.max_upload_mb)")


#: Interfaces that mean "every address": not a name a browser would send in Host.
WILDCARD_HOSTS = {"0.0.0.0", "::", ""}


#: Port a URL means when it names none.
DEFAULT_PORTS = {"http": 80, "https": 443}


def _host_name(netloc: str) -> str:
    """``host[:port]`` or ``[v6]:port`` -> the lower-case host name."""
    parsed = urlsplit(f"//{netloc}")
    return (parsed.hostname or "").lower()


def _origin(scheme: str, netloc: str) -> tuple[str, str, int] | None:
    """(scheme, host name, port) of a URL's origin, the port filled in; None if malformed."""
    parsed = urlsplit(f"//{netloc}")
    try:
        port = parsed.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number, or out of range
        return None
    if not parsed.hostname or port is None:
        return None
    return scheme.lower(), parsed.hostname.lower(), port


def same_origin(origin: str, scheme: str, host: str) -> bool:
    """Whether an ``Origin`` header names the origin the request was sent to.

    Scheme, host name and port must all match the request's own (its scheme and ``Host``):
    another port on the same machine is another site, and ``null`` (a sandboxed frame, a
    ``file:`` page, a redirect) is no site at all.
    """
    parsed = urlsplit(origin)
    if not parsed.scheme or parsed.path or parsed.query or parsed.fragment:
        return False
    mine = _origin(scheme, host)
    return mine is not None and _origin(parsed.scheme, parsed.netloc) == mine


def guard_hosts(app: Dash, allowed: Iterable[str]) -> None:
    """Answer 403 to requests whose Host is not one of ``allowed``, or whose Origin is not
    the app's own.

    A page on attacker.example can rebind its DNS name to 127.0.0.1 and then script the app
    from the user's browser; its requests still carry ``Host: attacker.example``. Checking
    Host against the names the app is served under stops that (DNS rebinding). A page on
    another port of the same machine, or a sandboxed one (``Origin: null``), sends the app's
    own Host but another Origin: a request with an Origin must come from the app's origin
    (:func:`same_origin`).
    """
    from flask import abort, request

    names = {h.strip("[]").lower() for h in allowed if h not in WILDCARD_HOSTS}

    @app.server.before_request
    def _check_host() -> None:
        if _host_name(request.host) not in names:
            abort(403, description="unknown Host (add it to app.allowed_hosts to allow it)")
        origin = request.headers.get("Origin")
        if origin is not None and not same_origin(origin, request.scheme, request.host):
            abort(403, description="cross-origin request refused")
