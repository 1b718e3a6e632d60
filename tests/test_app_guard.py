"""The app answers only its own host names and origin, cleans up on every way it stops, caps
its upload folder (issue 15, defects 18 and 19, and the app's part of 10) and refuses a request
over its size limit before reading it (issue 25, items 4 and 7).

Real HTTP requests to a real server on 127.0.0.1 (the same Dash callback endpoint a browser
posts an upload to); real subprocesses receiving real signals.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from cropaudit.app.images import ImageStore
from cropaudit.app.layout import Ids
from cropaudit.app.server import ExplorerApp, create_app
from cropaudit.config import parse_params
from cropaudit.errors import InputFileError
from support.app_images import astronaut, chelsea, coffee, encode, image_url
from support.workflow import tool_env

UPLOAD_OUTPUT = f"..{Ids.IMAGES}.data...{Ids.UPLOAD_MESSAGES}.children...{Ids.UPLOAD}.contents.."


def upload_payload(contents: str, name: str) -> dict:
    """The JSON a browser posts to ``/_dash-update-component`` when a file is dropped."""
    return {
        "output": UPLOAD_OUTPUT,
        "outputs": [{"id": Ids.IMAGES, "property": "data"},
                    {"id": Ids.UPLOAD_MESSAGES, "property": "children"},
                    {"id": Ids.UPLOAD, "property": "contents"}],
        "inputs": [{"id": Ids.UPLOAD, "property": "contents", "value": [contents]}],
        "state": [{"id": Ids.UPLOAD, "property": "filename", "value": [name]},
                  {"id": Ids.IMAGES, "property": "data", "value": []}],
        "changedPropIds": [f"{Ids.UPLOAD}.contents"],
    }


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[ExplorerApp, str]]:
    """The app on a real HTTP server on 127.0.0.1 (in a thread)."""
    app = create_app(parse_params({"croppers": ["center"]}), root=tmp_path,
                     temp_root=tmp_path, serve_host="127.0.0.1")
    server = make_server("127.0.0.1", 0, app.dash.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        app.close()


def test_requests_for_other_host_names_are_refused(served) -> None:
    _app, base = served
    port = base.rsplit(":", 1)[1]
    assert requests.get(base + "/", timeout=10).status_code == 200
    assert requests.get(base + "/", headers={"Host": f"localhost:{port}"},
                        timeout=10).status_code == 200
    assert requests.get(base + "/", headers={"Host": f"[::1]:{port}"}, timeout=10
                        ).status_code == 200
    for host in ("attacker.example", f"attacker.example:{port}", "127.0.0.1.attacker.example"):
        assert requests.get(base + "/", headers={"Host": host}, timeout=10).status_code == 403


def test_a_rebound_page_cannot_upload_or_download(served) -> None:
    """What a DNS-rebinding page does: post an upload, then fetch the page, as another host."""
    app, base = served
    payload = upload_payload(image_url(astronaut()), "astronaut.png")
    refused = requests.post(base + "/_dash-update-component", json=payload, timeout=60,
                            headers={"Host": "attacker.example"})
    assert refused.status_code == 403 and len(app.store) == 0
    cross = requests.post(base + "/_dash-update-component", json=payload, timeout=60,
                          headers={"Origin": "http://attacker.example"})
    assert cross.status_code == 403 and len(app.store) == 0
    ok = requests.post(base + "/_dash-update-component", json=payload, timeout=60,
                       headers={"Origin": base})
    assert ok.status_code == 200, ok.text[:500]
    images = ok.json()["response"][Ids.IMAGES]["data"]
    assert [d["name"] for d in images] == ["astronaut.png"] and len(app.store) == 1


def test_an_origin_must_be_the_apps_own_scheme_host_and_port(served) -> None:
    """Issue 25, item 7: ``Origin: null`` passed, and only host names were compared."""
    app, base = served
    port = int(base.rsplit(":", 1)[1])
    payload = upload_payload(image_url(astronaut()), "astronaut.png")

    def post(origin: str) -> int:
        return requests.post(base + "/_dash-update-component", json=payload, timeout=60,
                             headers={"Origin": origin}).status_code

    for other in ("null", f"http://127.0.0.1:{port + 1}", f"https://127.0.0.1:{port}",
                  f"http://localhost:{port}", "http://127.0.0.1", f"{base}/page",
                  f"http://127.0.0.1:{port}x", "", "file://"):
        assert post(other) == 403, other
    assert len(app.store) == 0
    assert post(base) == 200 and len(app.store) == 1
    assert post(f"HTTP://127.0.0.1:{port}") == 200  # scheme and host name are case-blind


def test_allowed_hosts_is_a_param(tmp_path: Path) -> None:
    params = parse_params({"croppers": ["center"],
                           "app": {"allowed_hosts": ["crops.lab.example"]}})
    app = create_app(params, root=tmp_path, temp_root=tmp_path)
    try:
        client = app.dash.server.test_client()
        assert client.get("/", headers={"Host": "crops.lab.example:8050"}).status_code == 200
        assert client.get("/", headers={"Host": "localhost"}).status_code == 403
    finally:
        app.close()


# -- the upload folder is removed however the app stops ------------------------------------


def _start_app(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    (tmp_path / "params.yaml").write_text("croppers: [center]\n")
    temp = tmp_path / "tmp"
    temp.mkdir()
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "cropaudit", "app", "--port", str(port), "--no-preload"],
        cwd=tmp_path, env=tool_env(TMPDIR=str(temp)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"app exited {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
        try:
            requests.get(base + "/_dash-layout", timeout=2)
            return proc, base
        except requests.ConnectionError:
            time.sleep(0.2)
    proc.kill()
    pytest.fail("app did not start")


@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM])
def test_uploads_are_deleted_when_the_app_gets_a_signal(tmp_path: Path, sig) -> None:
    proc, base = _start_app(tmp_path)
    try:
        answer = requests.post(base + "/_dash-update-component", timeout=60,
                               json=upload_payload(image_url(chelsea()), "cat.png"))
        assert answer.status_code == 200, answer.text[:500]
        (folder,) = (tmp_path / "tmp").glob("cropaudit-app-*")
        assert len(list(folder.iterdir())) == 2  # the upload's file and pixels
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert list((tmp_path / "tmp").iterdir()) == []


# -- the upload folder is capped -------------------------------------------------------------


def test_the_store_keeps_the_most_recently_used_images(tmp_path: Path) -> None:
    store = ImageStore(10**8, 10**9, root=tmp_path, max_images=2)
    try:
        a = store.add_bytes(encode(astronaut()), "a.png")
        b = store.add_bytes(encode(chelsea()), "b.png")
        store.record(a.key)  # a used again: b is now the least recently used
        c = store.add_bytes(encode(coffee()), "c.png")
        assert len(store) == 2
        with pytest.raises(InputFileError, match="no longer stored; upload it again"):
            store.record(b.key)
        assert store.record(a.key) == a and store.record(c.key) == c
        assert sorted(p.name for p in store.root.iterdir()) == sorted(
            f"{k}{s}" for k in (a.key, c.key) for s in (".bin", ".npy"))
    finally:
        store.close()


def test_the_store_stays_under_its_disk_cap(tmp_path: Path) -> None:
    one_image = 512 * 512 * 3  # pixels of the astronaut, the largest of the three
    store = ImageStore(10**8, 10**9, root=tmp_path, max_store_bytes=2 * one_image)
    try:
        for rgb in (astronaut(), chelsea(), coffee(), astronaut()[::-1]):
            newest = store.add_bytes(encode(rgb), "x.png")
            on_disk = sum(p.stat().st_size for p in store.root.iterdir())
            assert on_disk == store.stored_bytes
            assert on_disk <= 2 * one_image or len(store) == 1
        assert store.record(newest.key) == newest  # the newest is always kept
    finally:
        store.close()


def test_caps_come_from_params(tmp_path: Path) -> None:
    params = parse_params({"croppers": ["center"],
                           "app": {"max_stored_images": 3, "max_store_mb": 5}})
    app = create_app(params, root=tmp_path, temp_root=tmp_path)
    try:
        assert (app.store.max_images, app.store.max_store_bytes) == (3, 5 * 2**20)
    finally:
        app.close()
    assert json.dumps(parse_params({}).app.allowed_hosts) == '["127.0.0.1", "localhost", "::1"]'
    assert not os.path.exists(app.store.root)


# -- requests are bounded before they are read (issue 25, item 4) ------------------------------


def _peak_rss_mb(pid: int) -> float:
    """The process's peak resident memory so far (VmHWM), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM")


def _send_huge(base: str, total: int, *, chunked: bool) -> tuple[bytes, int]:
    """POST ``total`` bytes of an upload to the app, a MiB at a time, stopping when it
    answers; returns (the answer's first bytes, bytes sent)."""
    import select

    host = base.removeprefix("http://")
    port = int(host.rsplit(":", 1)[1])
    length = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {total}"
    head = (f"POST /_dash-update-component HTTP/1.1\r\nHost: {host}\r\nOrigin: {base}\r\n"
            f"Content-Type: application/json\r\n{length}\r\n\r\n").encode()
    body = b'{"inputs": [{"value": ["data:image/png;base64,' + b"A" * (2**20 - 46)
    chunk = b"A" * 2**20
    answer, sent = b"", 0
    with socket.create_connection(("127.0.0.1", port), timeout=60) as conn:
        conn.sendall(head)
        try:
            while sent < total and not answer:
                piece = body if sent == 0 else chunk
                conn.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked
                             else piece)
                sent += len(piece)
                if select.select([conn], [], [], 0)[0]:
                    answer = conn.recv(4096)
        except OSError:  # the server closed the connection on its answer
            pass
        if not answer:
            answer = conn.recv(4096)
    return answer, sent


@pytest.mark.parametrize("chunked", [False, True])
def test_a_400_mb_request_is_refused_before_it_is_read(tmp_path: Path, chunked: bool) -> None:
    """Before: the server read and parsed the whole body, 328 MB -> 1.51 GB (1.41 GB here)."""
    proc, base = _start_app(tmp_path)
    try:
        before = _peak_rss_mb(proc.pid)
        answer, sent = _send_huge(base, 400 * 2**20, chunked=chunked)
        # a length over the limit is refused at once; no length at all (chunked), too
        assert answer.startswith(b"HTTP/1.1 411" if chunked else b"HTTP/1.1 413"), answer[:200]
        peak = _peak_rss_mb(proc.pid)
        assert peak < 500, (before, peak)
        assert peak - before < 150, (before, peak)  # nothing like the body was held
        assert sent < 200 * 2**20, sent  # refused long before the end
        ok = requests.post(base + "/_dash-update-component", timeout=60, headers={"Origin": base},
                           json=upload_payload(image_url(chelsea()), "cat.png"))
        assert ok.status_code == 200, ok.text[:300]  # and it still serves
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def test_the_request_limit_follows_max_upload_mb(tmp_path: Path) -> None:
    from cropaudit.app.server import REQUEST_OVERHEAD_BYTES, request_limit_bytes

    params = parse_params({"croppers": ["center"], "app": {"max_upload_mb": 3}})
    limit = request_limit_bytes(params.app)
    assert limit == 4 * 2**20 + REQUEST_OVERHEAD_BYTES  # base64 of 3 MiB, and the JSON
    app = create_app(params, root=tmp_path, temp_root=tmp_path)
    try:
        assert app.dash.server.config["MAX_CONTENT_LENGTH"] == limit
        client = app.dash.server.test_client()
        too_big = client.post("/_dash-update-component", data=b"x" * (limit + 1),
                              content_type="application/json")
        assert too_big.status_code == 413
        upload = app.dash.layout()  # the page's upload box refuses larger files itself
        boxes = [c for c in _walk(upload) if getattr(c, "id", None) == Ids.UPLOAD]
        assert [b.max_size for b in boxes] == [3 * 2**20]
    finally:
        app.close()


def _walk(component):
    yield component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            yield from _walk(child)

