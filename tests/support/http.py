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


# -- servers that answer badly, on purpose ---------------------------------------------------

#: How a :class:`SlowServer` answers a path: a complete answer (status, content type, body),
#: ``TRICKLE`` (a status line, then one byte every ``every_s`` seconds, forever) or ``HANG``
#: (reads the request, never answers).
TRICKLE, HANG = "trickle", "hang"
Answer = tuple[int, str, bytes] | str


class SlowServer:
    """A raw HTTP/1.1 server on 127.0.0.1 whose answers are scripted per path prefix.

    Built on sockets rather than ``http.server`` so that it can send an answer one byte at a
    time: every read a client makes gets a byte within its timeout, so only a deadline on the
    whole call ends it. Start and stop it with ``with``.
    """

    def __init__(self, routes: dict[str, Answer], default: Answer = TRICKLE,
                 every_s: float = 1.0) -> None:
        import socket

        self.routes, self.default, self.every_s = routes, default, every_s
        self.requests: list[str] = []
        self._stop = threading.Event()
        self._sock = socket.create_server(("127.0.0.1", 0))
        self._sock.settimeout(0.2)
        self.base = f"http://127.0.0.1:{self._sock.getsockname()[1]}"
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> SlowServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _answer(self, path: str) -> Answer:
        prefix = max((p for p in self.routes if path.startswith(p)), key=len, default=None)
        return self.default if prefix is None else self.routes[prefix]

    def _serve(self, conn) -> None:  # one request per connection, then close
        with conn:
            conn.settimeout(1.0)
            data = b""
            try:
                while b"\r\n\r\n" not in data and not self._stop.is_set():
                    try:
                        chunk = conn.recv(65536)
                    except TimeoutError:
                        continue
                    if not chunk:
                        return
                    data += chunk
                path = data.split(b" ", 2)[1].decode("latin-1") if b" " in data else "/"
                self.requests.append(path)
                answer = self._answer(path)
                if answer == HANG:
                    self._stop.wait()
                elif answer == TRICKLE:
                    conn.sendall(b"HTTP/1.1 200 OK\r\n")
                    while not self._stop.wait(self.every_s):
                        conn.sendall(b"X")  # a header line that never ends
                else:
                    status, ctype, body = answer  # type: ignore[misc]
                    conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\n"
                                 f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
                                 .encode() + body)
            except OSError:  # the client gave up: what a deadline does
                return
