"""A real HTTP server on 127.0.0.1 that plays the Wikidata query service, the Commons API and the
Commons image host, so the production download code runs unchanged against it (only its base
URLs come from params).

Behaviour is scripted per file: ``plans[name] = ["429", "ok"]`` answers the first request for
that image with 429 + Retry-After and the second with the image. Steps: ``ok``, ``429``,
``500``, ``503``, ``404``, ``html`` (an HTML error page with status 200), ``truncated`` (half
the body, with the full Content-Length), ``maxlag`` (API only). The last step repeats. Every
request is logged with its time, path and User-Agent.
"""

from __future__ import annotations

import io
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from PIL import Image

SPARQL_PATH = "/sparql"
API_PATH = "/w/api.php"
FILEPATH_PREFIX = "/wiki/Special:FilePath/"
UPLOAD_PREFIX = "/upload/"


def jpeg_bytes(width: int, height: int, color: tuple[int, int, int], quality: int = 90) -> bytes:
    """A small real JPEG (each color gives different bytes, hence a different sha256)."""
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), color)
    # a diagonal stripe so the image is not flat
    for i in range(min(width, height)):
        img.putpixel((i, i), (255 - color[0], 255 - color[1], 255 - color[2]))
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def corrupt_jpeg(good: bytes) -> bytes:
    """A JPEG cut in the middle of its image data (served whole, with a matching length): it
    opens as a JPEG, but does not decode."""
    return good[: len(good) // 2]


def binding(qid: str, file_name: str, gender: str, ethnic: str, occupation: str = "Q33999",
            loc: str = "n00000001") -> dict:
    """One row of a WDQS JSON result, in the shape the service returns."""
    ent = "http://www.wikidata.org/entity/"
    return {
        "human": {"type": "uri", "value": ent + qid},
        "image": {"type": "uri",
                  "value": "http://commons.wikimedia.org/wiki/Special:FilePath/"
                  + quote(file_name.replace("_", " "))},
        "sex_or_gender": {"type": "uri", "value": ent + gender},
        "ethnic_group": {"type": "uri", "value": ent + ethnic},
        "occupation": {"type": "uri", "value": ent + occupation},
        "loc_aid": {"type": "literal", "value": loc},
    }


@dataclass
class Logged:
    t: float
    path: str
    query: dict[str, list[str]]
    user_agent: str


@dataclass
class FakeWikimedia:
    bindings: list[dict] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    extmetadata: dict[str, dict[str, str]] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)
    delay_s: float = 0.0
    retry_after: str = "1"
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None

    # -- control ---------------------------------------------------------------------------

    def start(self) -> FakeWikimedia:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # name fixed by http.server
                fake._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def reset_log(self) -> None:
        with self._lock:
            self.log.clear()
            self._calls.clear()

    def requests_to(self, prefix: str) -> list[Logged]:
        with self._lock:
            return [r for r in self.log if r.path.startswith(prefix)]

    def image_requests(self, name: str | None = None) -> int:
        return sum(
            1 for r in self.requests_to(UPLOAD_PREFIX)
            if name is None or r.path == UPLOAD_PREFIX + name
        )

    def add_person(self, qid: str, file_name: str, gender: str, ethnic: str, image: bytes,
                   meta: dict[str, str] | None = None) -> None:
        self.bindings.append(binding(qid, file_name, gender, ethnic))
        file_name = file_name.replace(" ", "_")
        self.files[file_name] = image
        self.extmetadata[file_name] = meta or {
            "LicenseShortName": "CC BY-SA 4.0",
            "LicenseUrl": "https://creativecommons.org/licenses/by-sa/4.0",
            "Artist": f'<a href="//commons.wikimedia.org/wiki/User:P{qid}">Photographer '
                      f'{qid} &amp; co</a>',
            "Credit": "<span class=\"int-own-work\">Own work</span>",
        }

    # -- serving ---------------------------------------------------------------------------

    def _step(self, key: str) -> str:
        with self._lock:
            n = self._calls.get(key, 0)
            self._calls[key] = n + 1
        plan = self.plans.get(key, ["ok"])
        return plan[min(n, len(plan) - 1)]

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self._lock:
            self.log.append(Logged(time.monotonic(), path, query, h.headers.get("User-Agent", "")))
        if path == SPARQL_PATH:
            self._sparql(h, query)
        elif path == API_PATH:
            self._api(h, query)
        elif path.startswith(FILEPATH_PREFIX):
            name = path[len(FILEPATH_PREFIX):].replace(" ", "_")
            location = UPLOAD_PREFIX + quote(name) + ("?" + parts.query if parts.query else "")
            self._send(h, 302, b"", "text/html", {"Location": location})
        elif path.startswith(UPLOAD_PREFIX):
            self._image(h, path[len(UPLOAD_PREFIX):])
        else:
            self._send(h, 404, b"not found", "text/plain")

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None, *, send_bytes: int | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        if send_bytes is not None:
            h.send_header("Connection", "close")
            h.close_connection = True
        h.end_headers()
        h.wfile.write(body if send_bytes is None else body[:send_bytes])
        h.wfile.flush()

    def _common_failure(self, h: BaseHTTPRequestHandler, step: str) -> bool:
        if step in ("429", "503"):
            self._send(h, int(step), b"slow down", "text/plain", {"Retry-After": self.retry_after})
        elif step in ("500", "404"):
            self._send(h, int(step), b"error", "text/plain")
        elif step == "html":
            self._send(h, 200, b"<!DOCTYPE html><html><body>Error: file is being rendered"
                               b"</body></html>", "text/html; charset=utf-8")
        else:
            return False
        return True

    def _sparql(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        if self._common_failure(h, self._step("sparql")):
            return
        if "query" not in query:
            self._send(h, 400, b"missing query", "text/plain")
            return
        doc = {
            "head": {"vars": ["human", "image", "sex_or_gender", "ethnic_group", "occupation",
                              "loc_aid"]},
            "results": {"bindings": self.bindings},
        }
        self._send(h, 200, json.dumps(doc).encode(), "application/sparql-results+json")

    def _api(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        step = self._step("api")
        if step == "maxlag":
            body = {"error": {"code": "maxlag", "info": "Waiting for a database server: 7 s"}}
            self._send(h, 200, json.dumps(body).encode(), "application/json",
                       {"Retry-After": "0", "X-Database-Lag": "7"})
            return
        if self._common_failure(h, step):
            return
        titles = query.get("titles", [""])[0].split("|")
        normalized, pages = [], []
        for title in titles:
            norm = title.replace("_", " ")
            if norm != title:
                normalized.append({"fromencoded": False, "from": title, "to": norm})
            name = norm[len("File:"):].replace(" ", "_")
            if name not in self.files:
                pages.append({"ns": 6, "title": norm, "missing": True, "known": False})
                continue
            ext = {k: {"value": v, "source": "commons-desc-page"}
                   for k, v in self.extmetadata.get(name, {}).items()}
            pages.append({
                "ns": 6, "title": norm, "imagerepository": "local",
                "imageinfo": [{
                    "size": len(self.files[name]), "width": 64, "height": 48,
                    "url": f"{self.base}{UPLOAD_PREFIX}{quote(name)}",
                    "descriptionurl": f"{self.base}/wiki/File:{quote(name)}",
                    "mime": "image/jpeg", "extmetadata": ext,
                }],
            })
        doc = {"batchcomplete": True, "query": {"normalized": normalized, "pages": pages}}
        self._send(h, 200, json.dumps(doc).encode(), "application/json; charset=utf-8")

    def _image(self, h: BaseHTTPRequestHandler, name: str) -> None:
        step = self._step(name)
        if self.delay_s:
            time.sleep(self.delay_s)
        if name not in self.files:
            self._send(h, 404, b"no such file", "text/plain")
        elif self._common_failure(h, step):
            pass
        elif step == "truncated":
            body = self.files[name]
            self._send(h, 200, body, "image/jpeg", send_bytes=len(body) // 2)
        else:
            self._send(h, 200, self.files[name], "image/jpeg")
