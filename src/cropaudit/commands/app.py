"""Serve the crop explorer, a local web app to see what the saliency model sees.

Upload images (drag and drop) or pick them from the dataset table, and see the heat map, the
salient point, the top-k grid cells and every candidate crop; join two or more images in pair
mode to see which one the cropper keeps and by how much. Serves on 127.0.0.1:8050 by default
(params ``app.host`` / ``app.port``, overridden by --host / --port). Uploads live only in a
temporary folder deleted when the app stops (Ctrl+C, SIGTERM or SIGHUP), capped while it runs
(params ``app.max_stored_images``, ``app.max_store_mb``: the least recently used images go).
Only requests addressed to ``app.allowed_hosts`` (127.0.0.1, localhost, ::1) or to --host are
answered; others get 403 (a defence against DNS rebinding).
"""

from __future__ import annotations

import argparse

HELP = "interactive crop explorer (web app on 127.0.0.1:8050)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to serve on (default: app.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default: app.port, 8050)")
    parser.add_argument("--params", help="params file (default: params.yaml if present)")
    parser.add_argument("--model", help="FastGaze model file (default: model.path from params)")
    parser.add_argument(
        "--no-preload", action="store_true",
        help="load the model on first use instead of at start-up",
    )


def _exit_on_signals() -> None:
    """Turn SIGTERM and SIGHUP (terminal closed, service stopped) into SystemExit, so the
    upload folder is removed instead of left in the temp dir."""
    import signal
    import sys

    for sig in (signal.SIGTERM, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, lambda _sig, _frame: sys.exit(0))


def run(args: argparse.Namespace) -> int:
    import logging

    from cropaudit.app.server import create_app, default_backend
    from cropaudit.config import load_params
    from cropaudit.errors import ConfigError, CropauditError

    params = load_params(args.params)
    host = args.host or params.app.host
    port = args.port if args.port is not None else params.app.port
    if not 0 < port < 65536:
        raise ConfigError(f"--port must be between 1 and 65535, got {port}")
    _exit_on_signals()  # from here on the upload folder exists and must not be left behind
    app = create_app(params, args.model, serve_host=host)
    log = logging.getLogger("cropaudit.app")
    models = app.explorer.analyzer.models
    backend = default_backend(params, models)
    if backend == "center" and params.primary_cropper != "center":
        log.warning("FastGaze unavailable (%s); the page starts on the center baseline",
                    models.status("fastgaze")[1])
    if not args.no_preload:
        try:  # TensorFlow takes seconds to load: pay that before the first upload, not during it
            models.get(backend)
        except CropauditError as exc:
            log.warning("%s (the page will say so)", exc)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"cropaudit app: serving the crop explorer on http://{host}:{port}/ (Ctrl+C stops it)",
          flush=True)
    try:
        app.dash.run(host=host, port=port, debug=False)
    finally:
        app.close()
    return 0
