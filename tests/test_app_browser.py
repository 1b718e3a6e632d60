"""The crop explorer in a real browser: Debian's Chromium, headless, driven by Playwright.

Starts ``cropaudit app`` in a subprocess on a free port, uploads images, waits for the crops,
checks what a user sees, and saves screenshots under ``tests/artifacts/`` (gitignored).
Uses FastGaze when its model file is available, else the center baseline.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, shared_root
from support.app_images import astronaut, chelsea, coffee, encode, write_dataset
from support.http import wait_for_page

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run",
]

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _fastgaze_model() -> Path | None:
    env = os.environ.get("CROPAUDIT_FASTGAZE")
    path = Path(env) if env else shared_root() / "models" / "fastgaze.vxm"
    return path if path.is_file() else None


@pytest.fixture
def project(tmp_path):
    """A project folder with a dataset table, and a private TMPDIR to watch for uploads."""
    root = tmp_path / "project"
    root.mkdir()
    write_dataset(root, {"img-a": (coffee(), "white_female"), "img-b": (chelsea(), "black_male")})
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    files = tmp_path / "files"
    files.mkdir()
    (files / "astronaut.png").write_bytes(encode(astronaut()))
    (files / "notes.txt").write_text("not an image\n")
    return root, tmpdir, files


@pytest.fixture
def server(project):
    root, tmpdir, _ = project
    port = _free_port()
    model = _fastgaze_model()
    args = [sys.executable, "-m", "cropaudit", "app", "--port", str(port)]
    if model is not None:
        args += ["--model", str(model)]
    else:
        (root / "params.yaml").write_text("model:\n  backend: center\n")
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"), TMPDIR=str(tmpdir),
               TF_CPP_MIN_LOG_LEVEL="2", MLFLOW_DISABLE_TELEMETRY="true")
    log = tmpdir.parent / "app.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(args, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for_page(f"http://127.0.0.1:{port}/", proc, log)
        yield f"http://127.0.0.1:{port}/", proc, "fastgaze" if model else "center"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
def page():
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not found (apt-get install --no-install-recommends chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1440, "height": 1000},
                                          accept_downloads=True)
            yield context.new_page()
        finally:
            browser.close()


def test_upload_explore_and_compare(server, page, project):
    url, proc, backend = server
    root, tmpdir, files = project
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    page.goto(url)
    page.wait_for_selector("text=Upload an image to start")
    page.set_input_files("#upload input[type=file]",
                         [str(files / "astronaut.png"), str(files / "notes.txt")])

    # the crops render: one card per ratio, each with a loaded thumbnail
    page.wait_for_function("document.querySelectorAll('.crop-card img').length === 5",
                           timeout=90_000)
    page.wait_for_function(
        "[...document.querySelectorAll('.crop-card img')].every(i => i.naturalWidth > 0)")
    captions = page.locator(".crop-card figcaption").all_inner_texts()
    assert [c.split()[0] for c in captions] == ["0.56", "1", "1.14", "2", "own"]
    assert page.locator("#upload-messages").inner_text().count("not a recognised image") == 1
    stats = page.locator("#image-stats").inner_text()
    assert "SALIENT POINT" in stats.upper() and "512×512" in stats
    legend = page.locator("#image-figure .legend").text_content()
    for name in ("crop 0.56", "crop 2", "crop own 1", "top 5 cells", "salient point"):
        assert name in legend
    model_label = "FastGaze" if backend == "fastgaze" else "Center baseline"
    assert model_label in stats

    # the upload lives in the app's temp dir only
    stores = list(tmpdir.glob("cropaudit-app-*"))
    assert len(stores) == 1 and len(list(stores[0].glob("*.bin"))) == 1

    # the opacity slider restyles the heat map in the browser
    page.locator("#opacity [role=slider]").focus()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function(
        "Math.abs(document.querySelector('#image-figure .js-plotly-plot').data[1].opacity"
        " - 0.4) < 1e-6")
    page.screenshot(path=str(ARTIFACTS / "app-single.png"), full_page=True)

    # numbers download as JSON
    with page.expect_download() as download:
        page.click("#image-json")
    numbers = json.loads(Path(download.value.path()).read_text())
    assert numbers["image"]["name"] == "astronaut.png" and numbers["model"] == backend
    assert len(numbers["crops"]) == 5

    # pick a dataset image, then compare the two in pair mode
    page.click("#dataset-pick")
    page.keyboard.type("img-a")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.click("#dataset-add")
    page.wait_for_function(
        "document.querySelector('#image-count').innerText.trim() === '2 images'")
    page.click("#tabs .tab:has-text('Pair / group')")
    page.wait_for_selector("#pair-headline .badge", timeout=90_000)
    headline = page.locator("#pair-headline").inner_text()
    assert "Winner" in headline.title() and "max saliency" in headline
    rows = page.locator("#pair-table tbody tr")
    assert rows.count() == 2
    assert page.locator("#pair-table tr.winner").count() == 1
    assert "white_female" in page.locator("#pair-table").inner_text()
    page.screenshot(path=str(ARTIFACTS / "app-pair.png"), full_page=True)

    # stopping the app removes its uploads; nothing was written into the project
    proc.terminate()
    assert proc.wait(timeout=20) == 0
    assert list(tmpdir.glob("cropaudit-app-*")) == []
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
