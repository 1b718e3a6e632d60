"""A real HTTP server on 127.0.0.1 that plays the Wikidata query service, the Commons API and the
Commons media host (upload.wikimedia.org), so the production download code runs unchanged
against it (only its base URLs come from params).

It imitates what the real services do, from their documented behaviour:

- the query service and the API answer gzip-compressed when the client accepts it;
- the API returns ``imageinfo`` for at most ``api_page_limit`` files per answer and a
  ``continue`` object for the rest (MediaWiki scales at most 50 thumbnails per request);
- ``iiurlwidth`` yields a ``thumburl`` at the next standard thumbnail step (1000 -> 1280, as
  ``$wgThumbnailSteps`` does); a bitmap narrower than that step is served as the original;
  SVG thumbnails are PNG and TIFF thumbnails JPEG (``...px-Name.svg.png``, ``...px-Name.tif.jpg``);
- ``Special:FilePath/<name>`` costs two redirects (via ``Special:Redirect/file``), as on Commons;
- a User-Agent without a contact (``python-requests/x``, no parentheses) gets 403 and the
  robot-policy text;
- ``Retry-After`` (``retry_after``), maxlag, database errors and query timeouts on demand.

Behaviour is scripted per key: ``plans[name] = ["429", "ok"]`` answers the first request for
that file with 429 + Retry-After and the second with the image (``"api"`` and ``"sparql"`` are
the keys of the two services). Steps: ``ok``, ``429``, ``500``, ``503``, ``404``, ``html`` (an
HTML error page with status 200), ``truncated`` (half the body, with the full Content-Length),
``maxlag`` and ``dberror`` (API only), ``timeout`` (query service: 500 with a Java
TimeoutException body), ``drop`` (the connection is closed without an answer). The last step
repeats. Every request is logged with its time, path, query, User-Agent and the Commons file it
concerns.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

from PIL import Image

SPARQL_PATH = "/sparql"
API_PATH = "/w/api.php"
FILEPATH_PREFIX = "/wiki/Special:FilePath/"
REDIRECT_PREFIX = "/wiki/Special:Redirect/file/"
UPLOAD_PREFIX = "/upload/"
THUMB_PREFIX = "/upload/thumb/"
#: $wgThumbnailSteps in Wikimedia production.
THUMB_STEPS = (20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840)
ROBOT_POLICY = (b"Please set a user-agent and respect our robot policy https://w.wiki/4wJS. "
                b"See also https://phabricator.wikimedia.org/T400119.\n")
MIMES = {".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png", ".gif": "image/gif",
         ".tif": "image/tiff", ".tiff": "image/tiff", ".webp": "image/webp",
         ".svg": "image/svg+xml", ".pdf": "application/pdf", ".webm": "video/webm"}
_THUMB = re.compile(r"^(?P<name>[^/]+)/(?P<w>\d+)px-(?P=name)(?P<ext>\.png|\.jpg)?$")


def jpeg_bytes(width: int, height: int, color: tuple[int, int, int], quality: int = 90) -> bytes:
    """A small real JPEG (each color gives different bytes, hence a different sha256)."""
    return image_bytes(width, height, color, "JPEG", quality=quality)


def image_bytes(width: int, height: int, color: tuple[int, int, int], fmt: str,
                **save: object) -> bytes:
    """A small real image in ``fmt`` with a diagonal stripe, so the image is not flat."""
    buf = io.BytesIO()
    img = Image.new("RGB", (width, height), color)
    for i in range(min(width, height)):
        img.putpixel((i, i), (255 - color[0], 255 - color[1], 255 - color[2]))
    img.save(buf, fmt, **save)
    return buf.getvalue()


SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" width="300" height="200">'
       b'<rect width="300" height="200" fill="red"/></svg>')


def corrupt_jpeg(good: bytes) -> bytes:
    """A JPEG cut in the middle of its image data (served whole, with a matching length): it
    opens as a JPEG, but does not decode."""
    return good[: len(good) // 2]


def binding(qid: str, file_name: str, gender: str, ethnic: str, occupation: str = "Q33999",
            loc: str = "n00000001") -> dict:
    """One row of a WDQS JSON result, in the shape the service returns. ``gender`` may be a
    full IRI (e.g. an "unknown value" ``http://www.wikidata.org/.well-known/genid/...``)."""
    ent = "http://www.wikidata.org/entity/"
    return {
        "human": {"type": "uri", "value": ent + qid},
        "image": {"type": "uri",
                  "value": "http://commons.wikimedia.org/wiki/Special:FilePath/"
                  + quote(file_name.replace("_", " "))},
        "sex_or_gender": {"type": "uri",
                          "value": gender if gender.startswith("http") else ent + gender},
        "ethnic_group": {"type": "uri", "value": ent + ethnic},
        "occupation": {"type": "uri", "value": ent + occupation},
        "loc_aid": {"type": "literal", "value": loc},
    }


def standard_step(width: int) -> int:
    return next((w for w in THUMB_STEPS if w >= width), THUMB_STEPS[-1])


class _QuietServer(ThreadingHTTPServer):
    """A client that hangs up (Ctrl-C, a stopped download) is normal here, not an error."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Logged:
    t: float
    path: str
    query: dict[str, list[str]]
    user_agent: str
    file: str | None = None  # the Commons file an upload request is for


@dataclass
class FakeWikimedia:
    bindings: list[dict] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    extmetadata: dict[str, dict[str, str]] = field(default_factory=dict)
    plans: dict[str, list[str]] = field(default_factory=dict)
    delay_s: float = 0.0
    retry_after: str = "1"
    api_page_limit: int = 50
    #: files renamed on Commons since Wikidata named them: old name -> new (the old title is
    #: a redirect: with ``redirects`` the API follows it, without it the page keeps the old
    #: title and, as MediaWiki does for file redirects, the target's imageinfo)
    renamed: dict[str, str] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, int] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thumbs: dict[tuple[str, int], bytes] = {}

    # -- control ---------------------------------------------------------------------------

    def start(self) -> FakeWikimedia:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def do_GET(self) -> None:  # name fixed by http.server
                try:
                    fake._handle(self)
                except (BrokenPipeError, ConnectionResetError):  # client gave up (Ctrl-C)
                    self.close_connection = True

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
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
        """Requests to the media host (originals and thumbnails), for one file or all."""
        return sum(1 for r in self.requests_to(UPLOAD_PREFIX) if name is None or r.file == name)

    def add_file(self, file_name: str, data: bytes, meta: dict[str, str] | None = None,
                 *, qid: str = "Q0") -> None:
        """A file on Commons (licence metadata: CC BY-SA by default, ``{}`` for none)."""
        file_name = file_name.replace(" ", "_")
        self.files[file_name] = data
        self.extmetadata[file_name] = meta if meta is not None else {
            "LicenseShortName": "CC BY-SA 4.0",
            "LicenseUrl": "https://creativecommons.org/licenses/by-sa/4.0",
            "Artist": f'<a href="//commons.wikimedia.org/wiki/User:P{qid}">Photographer '
                      f'{qid} &amp; co</a>',
            "Credit": "<span class=\"int-own-work\">Own work</span>",
        }

    def add_person(self, qid: str, file_name: str, gender: str, ethnic: str, image: bytes,
                   meta: dict[str, str] | None = None) -> None:
        self.bindings.append(binding(qid, file_name, gender, ethnic))
        self.add_file(file_name, image, meta, qid=qid)

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
        ua = h.headers.get("User-Agent", "")
        file = None
        if path.startswith(THUMB_PREFIX):
            file = path[len(THUMB_PREFIX):].split("/", 1)[0]
        elif path.startswith(UPLOAD_PREFIX):
            file = path[len(UPLOAD_PREFIX):]
        with self._lock:
            self.log.append(Logged(time.monotonic(), path, query, ua, file))
        if "(" not in ua or ua.startswith("python-requests"):
            self._send(h, 403, ROBOT_POLICY, "text/plain; charset=utf-8")
        elif path == SPARQL_PATH:
            self._sparql(h, query)
        elif path == API_PATH:
            self._api(h, query)
        elif path.startswith(FILEPATH_PREFIX):  # Commons: FilePath -> Redirect/file -> upload
            name = path[len(FILEPATH_PREFIX):].replace(" ", "_")
            self._send(h, 301, b"", "text/html", {"Location": REDIRECT_PREFIX + quote(name)})
        elif path.startswith(REDIRECT_PREFIX):
            name = path[len(REDIRECT_PREFIX):]
            self._send(h, 302, b"", "text/html", {"Location": UPLOAD_PREFIX + quote(name)})
        elif path.startswith(THUMB_PREFIX):
            self._thumb(h, path[len(THUMB_PREFIX):])
        elif path.startswith(UPLOAD_PREFIX):
            self._image(h, path[len(UPLOAD_PREFIX):])
        else:
            self._send(h, 404, b"not found", "text/plain")

    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str,
              headers: dict[str, str] | None = None, *, send_bytes: int | None = None,
              compress: bool = False) -> None:
        headers = dict(headers or {})
        if compress and "gzip" in h.headers.get("Accept-Encoding", ""):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
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
        elif step == "drop":  # the connection closes before any answer (a host going down)
            h.close_connection = True
        elif step == "html":
            self._send(h, 200, b"<!DOCTYPE html><html><body>Error: file is being rendered"
                               b"</body></html>", "text/html; charset=utf-8")
        else:
            return False
        return True

    def _sparql(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        step = self._step("sparql")
        if step == "timeout":  # what Blazegraph answers after its 60 s limit
            body = (b"SPARQL-QUERY: queryStr=SELECT ...\njava.util.concurrent.ExecutionException:"
                    b" java.util.concurrent.TimeoutException\n\tat java.base/java.util.concurrent"
                    b".FutureTask.report(FutureTask.java:122)\n")
            self._send(h, 500, body, "text/plain; charset=UTF-8", compress=True)
            return
        if self._common_failure(h, step):
            return
        if "query" not in query:
            self._send(h, 400, b"missing query", "text/plain")
            return
        doc = {
            "head": {"vars": ["human", "image", "sex_or_gender", "ethnic_group", "occupation",
                              "loc_aid"]},
            "results": {"bindings": self.bindings},
        }
        self._send(h, 200, json.dumps(doc).encode(), "application/sparql-results+json",
                   compress=True)

    def _api_error(self, h: BaseHTTPRequestHandler, code: str, info: str,
                   headers: dict[str, str] | None = None) -> None:
        body = {"error": {"code": code, "info": info, "*": "See https://commons.wikimedia.org"
                          "/w/api.php for API usage."}, "servedby": "mw-api-ext.fake"}
        self._send(h, 200, json.dumps(body).encode(), "application/json; charset=utf-8",
                   {"MediaWiki-API-Error": code, **(headers or {})}, compress=True)

    def _api(self, h: BaseHTTPRequestHandler, query: dict[str, list[str]]) -> None:
        step = self._step("api")
        if step == "maxlag":
            self._api_error(h, "maxlag", "Waiting for 10.64.48.35: 7 seconds lagged.",
                            {"Retry-After": "0", "X-Database-Lag": "7"})
            return
        if step == "dberror":
            self._api_error(h, "internal_api_error_DBQueryError",
                            "[a1b2c3] Database query error.")
            return
        if self._common_failure(h, step):
            return
        titles = query.get("titles", [""])[0].split("|")
        width = int(query.get("iiurlwidth", ["-1"])[0])
        start = query.get("iicontinue", [""])[0].split("|", 1)[0]
        normalized, redirects, pages, served, cont = [], [], [], 0, None
        for title in titles:
            norm = title.replace("_", " ")
            if norm != title:
                normalized.append({"fromencoded": False, "from": title, "to": norm})
            name = norm[len("File:"):].replace(" ", "_")
            page: dict = {"ns": 6, "title": norm}
            if name in self.renamed:
                name = self.renamed[name]
                if "redirects" in query:
                    target = "File:" + name.replace("_", " ")
                    redirects.append({"from": norm, "to": target})
                    page["title"] = target
                else:
                    page["redirect"] = True
            if name not in self.files:
                pages.append({**page, "missing": True, "known": False})
                continue
            page["imagerepository"] = "local"
            if (start and name < start) or cont:
                pages.append(page)  # its imageinfo comes in another answer
                continue
            if served == self.api_page_limit:
                cont = f"{name}|20250101000000"
                pages.append(page)
                continue
            served += 1
            pages.append({**page, "imageinfo": [self._imageinfo(name, width)]})
        doc: dict = {"query": {"normalized": normalized, "redirects": redirects,
                               "pages": pages}}
        if cont:
            doc["continue"] = {"iicontinue": cont, "continue": "||"}
        else:
            doc["batchcomplete"] = True
        self._send(h, 200, json.dumps(doc).encode(), "application/json; charset=utf-8",
                   compress=True)

    def _size(self, name: str) -> tuple[int, int]:
        try:
            with Image.open(io.BytesIO(self.files[name])) as img:
                return img.size
        except Exception:  # an SVG, a PDF, a corrupt file: Commons knows a size, we don't
            return 300, 200

    def _imageinfo(self, name: str, width: int) -> dict:
        ext = "." + name.rsplit(".", 1)[-1].lower()
        w, h = self._size(name)
        info = {
            "size": len(self.files[name]), "width": w, "height": h,
            "url": f"{self.base}{UPLOAD_PREFIX}{quote(name)}",
            "descriptionurl": f"{self.base}/wiki/File:{quote(name)}",
            "mime": MIMES.get(ext, "application/octet-stream"),
            "extmetadata": {k: {"value": v, "source": "commons-desc-page"}
                            for k, v in self.extmetadata.get(name, {}).items()},
        }
        if width > 0:
            step = standard_step(width)
            converted = {".svg": ".png", ".tif": ".jpg", ".tiff": ".jpg"}.get(ext)
            if step >= w and converted is None:  # never upscaled: the original itself
                info.update(thumburl=info["url"], thumbwidth=w, thumbheight=h,
                            thumbmime=info["mime"])
            else:
                tw = min(step, w) if converted is None else step
                info.update(
                    thumburl=f"{self.base}{THUMB_PREFIX}{quote(name)}/{tw}px-{quote(name)}"
                    + (converted or ""),
                    thumbwidth=tw, thumbheight=round(h * tw / w),
                    thumbmime="image/png" if converted == ".png" else info["mime"]
                    if converted is None else "image/jpeg",
                )
        return info

    def _thumb_bytes(self, name: str, width: int, ext: str | None) -> bytes:
        with self._lock:
            cached = self._thumbs.get((name, width))
        if cached is not None:
            return cached
        if name.lower().endswith(".svg"):  # rendered by rsvg on Commons; a flat PNG here
            img = Image.new("RGB", (width, round(width * 2 / 3)), (220, 30, 30))
        else:
            with Image.open(io.BytesIO(self.files[name])) as src:
                src.load()
                img = src.convert("RGB").resize(
                    (width, max(1, round(src.height * width / src.width))))
        buf = io.BytesIO()
        img.save(buf, "PNG" if ext == ".png" else "JPEG", quality=85)
        data = buf.getvalue()
        with self._lock:
            self._thumbs[(name, width)] = data
        return data

    def _thumb(self, h: BaseHTTPRequestHandler, rest: str) -> None:
        m = _THUMB.match(rest)
        name = m["name"] if m else rest.split("/", 1)[0]
        step = self._step(name)
        if self.delay_s:
            time.sleep(self.delay_s)
        if m is None or name not in self.files:
            self._send(h, 404, b"no such thumbnail", "text/plain")
        elif not self._common_failure(h, step):
            ext = m["ext"]
            body = self._thumb_bytes(name, int(m["w"]), ext)
            ctype = "image/png" if ext == ".png" else "image/jpeg"
            self._send(h, 200, body, ctype,
                       send_bytes=len(body) // 2 if step == "truncated" else None)

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
            ext = "." + name.rsplit(".", 1)[-1].lower()
            self._send(h, 200, self.files[name], MIMES.get(ext, "image/jpeg"))
