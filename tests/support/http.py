"""A real HTTP server on 127.0.0.1 for download tests (no network beyond loopback), and waiting
for a server started as a subprocess (the app) to answer."""

from __future__ import annotations

import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

#: handler(path, request_count_for_path) -> (status, headers, body)
Route = Callable[[str, int], tuple[int, dict[str, str], bytes]]


@contextmanager
def serve(routes: dict[str, Route]) -> Iterator[tuple[str, dict[str, int]]]:
    """Serve ``routes`` (exact paths) and yield (base URL, request counts per path)."""
    counts: dict[str, int] = {}
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # name fixed by http.server
            path = self.path.split("?", 1)[0]
            with lock:
                counts[path] = counts.get(path, 0) + 1
                n = counts[path]
            route = routes.get(path)
            if route is None:
                status, headers, body = 404, {}, b"not found"
            else:
                status, headers, body = route(self.path, n)
            self.send_response(status)
            headers = {"Content-Length": str(len(body)), **headers}
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", counts
    finally:
        server.shutdown()
        server.server_close()


def wait_for_page(url: str, proc: subprocess.Popen, log: Path, timeout: float = 120) -> str:
    """The body of ``url`` once the server ``proc`` (output in ``log``) answers with 2xx."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"server exited with {proc.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                return r.read().decode("utf-8")
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"server did not answer on {url} within {timeout} s:\n{log.read_text()}")
