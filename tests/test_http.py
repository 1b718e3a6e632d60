"""The polite HTTP client on its own, against the local fake image host."""

from __future__ import annotations

import email.utils
import json
import os
import stat
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from cropaudit.datasets.http import DownloadJob, PoliteClient, ServiceBusy, parse_retry_after
from cropaudit.datasets.params import HttpParams
from cropaudit.errors import DownloadError
from cropaudit.outputs import atomic_dir, write_text
from support.wikimedia import FILEPATH_PREFIX, UPLOAD_PREFIX, FakeWikimedia


@pytest.fixture
def fake() -> Any:
    server = FakeWikimedia().start()
    yield server
    server.stop()


def client(**over: Any) -> PoliteClient:
    base = {"contact": "tests@example.org", "max_attempts": 3, "backoff_initial_s": 0.01,
            "backoff_max_s": 0.05, "max_mbps": None, "timeout_s": 5}
    return PoliteClient(HttpParams(**{**base, **over}))


def accept_all(path: Path) -> tuple[str, int]:
    return ".bin", path.stat().st_size


def test_retry_after_forms() -> None:
    assert parse_retry_after("120") == 120
    future = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 25 <= (parse_retry_after(future) or 0) <= 31
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_long_retry_after_stops_every_worker_instead_of_a_burst(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    """Retry-After beyond the cap: no other request goes out, complete files stay, and the
    error says to resume later (the imitation saw 29 requests in 0.12 s here)."""
    for i in range(29):
        fake.files[f"f{i:02d}.jpg"] = bytes([i]) * 10
    jobs = [DownloadJob(f"f{i:02d}", fake.base + UPLOAD_PREFIX + f"f{i:02d}.jpg", f"f{i:02d}")
            for i in range(29)]
    with client(concurrency=2) as c:  # a first run gets the first 3 files
        assert len(c.download_many(jobs[:3], tmp_path, accept_all).done) == 3
    fake.reset_log()
    fake.plans.update({f"f{i:02d}.jpg": ["429"] for i in range(29)})
    fake.retry_after = "900"
    start = time.monotonic()
    with client(concurrency=2, retry_after_max_s=600) as c, pytest.raises(
        ServiceBusy, match=r"asked to wait 900 s \(HTTP 429, Retry-After\), more than "
        r"dataset.wikiceleb.http.retry_after_max_s 600 s; stopped .* run the same command again"
    ):
        c.download_many(jobs, tmp_path, accept_all)
    assert time.monotonic() - start < 5
    assert 1 <= fake.image_requests() <= 2  # at most the requests already in flight
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f00.bin", "f01.bin", "f02.bin"]


def test_pause_asked_by_one_answer_holds_every_worker(fake: FakeWikimedia, tmp_path: Path) -> None:
    """A 503 with Retry-After 1 on one file: the other worker sends nothing during that second."""
    for name in "abcdefghij":
        fake.files[f"{name}.jpg"] = name.encode() * 10
    fake.plans["a.jpg"] = ["503", "ok"]
    fake.delay_s = 0.05
    jobs = [DownloadJob(n, fake.base + UPLOAD_PREFIX + f"{n}.jpg", n) for n in "abcdefghij"]
    with client(concurrency=2) as c:
        report = c.download_many(jobs, tmp_path, accept_all)
    assert len(report.done) == 10
    first_503 = fake.requests_to(UPLOAD_PREFIX + "a.jpg")[0].t
    during = [r for r in fake.requests_to(UPLOAD_PREFIX) if first_503 + 0.1 < r.t < first_503 + 0.9]
    assert during == []


def test_bandwidth_cap_slows_the_download(fake: FakeWikimedia, tmp_path: Path) -> None:
    fake.files["big.jpg"] = os.urandom(150_000)
    start = time.monotonic()
    with client(max_mbps=1.0) as c:  # 125 kB/s -> 150 kB needs at least ~1.2 s
        report = c.download_many(
            [DownloadJob("big", fake.base + UPLOAD_PREFIX + "big.jpg", "big")], tmp_path,
            accept_all,
        )
    assert time.monotonic() - start >= 1.0
    assert report.done["big"].path.read_bytes() == fake.files["big.jpg"]
    assert report.summary() == "downloaded 1, skipped 0 (already present), failed 0"


def test_fetch_gives_up_with_one_line_that_quotes_the_body(fake: FakeWikimedia) -> None:
    fake.plans["sparql"] = ["500"]
    match = r"/sparql: HTTP 500: error \(after 3 attempts\)$"
    with client() as c, pytest.raises(DownloadError, match=match):
        c.fetch(fake.base + "/sparql", params={"query": "x"})
    assert len(fake.requests_to("/sparql")) == 3


def test_user_agent_without_contact_is_refused_with_the_policy_text(fake: FakeWikimedia) -> None:
    with client(user_agent="python-requests/2.32") as c, pytest.raises(
        DownloadError, match=r"HTTP 403: Please set a user-agent and respect our robot policy"
    ):
        c.fetch(fake.base + "/sparql", params={"query": "x"})
    assert len(fake.requests_to("/sparql")) == 1  # 403 is final


def test_gzip_answers_are_decoded(fake: FakeWikimedia) -> None:
    raw = requests.get(fake.base + "/sparql", params={"query": "x"}, stream=True,
                       headers={"User-Agent": "t (t@example.org)", "Accept-Encoding": "gzip"})
    assert raw.headers["Content-Encoding"] == "gzip"  # the fake compresses, as WDQS does
    raw.close()
    with client() as c:
        body = c.fetch(fake.base + "/sparql", params={"query": "x"})
    assert json.loads(body)["head"]["vars"][0] == "human"


def test_two_step_redirect_is_followed(fake: FakeWikimedia, tmp_path: Path) -> None:
    fake.files["A_b.jpg"] = b"image bytes"
    with client() as c:
        report = c.download_many(
            [DownloadJob("a", fake.base + FILEPATH_PREFIX + "A%20b.jpg", "a")], tmp_path,
            accept_all)
    assert report.done["a"].path.read_bytes() == b"image bytes"
    assert [r.path.split(":", 1)[-1] for r in fake.log] == [
        "FilePath/A b.jpg", "Redirect/file/A_b.jpg", "/upload/A_b.jpg"]


def test_images_and_folders_get_the_usual_output_mode(fake: FakeWikimedia, tmp_path: Path) -> None:
    fake.files["a.jpg"] = b"x" * 10
    umask = os.umask(0o022)
    try:
        with client() as c:
            report = c.download_many(
                [DownloadJob("a", fake.base + UPLOAD_PREFIX + "a.jpg", "a")],
                tmp_path / "images", accept_all)
        with atomic_dir(tmp_path / "generated") as folder:  # how the demo writes its images
            (folder / "x.txt").write_text("x")
        table = write_text(tmp_path / "table.csv", "a\n")
    finally:
        os.umask(umask)
    assert stat.S_IMODE(report.done["a"].path.stat().st_mode) == 0o644
    assert stat.S_IMODE(table.stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "images").stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "generated").stat().st_mode) == 0o755


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    with client() as c:
        report = c.download_many([DownloadJob("a", "http://127.0.0.1:9/x.jpg", "a")], tmp_path,
                                 accept_all)
    assert report.failed == {"a": "connection error (after 3 attempts)"}
    assert list(tmp_path.iterdir()) == []  # no partial file left behind


def test_a_failing_check_stops_the_other_workers_too(fake: FakeWikimedia, tmp_path: Path) -> None:
    for i in range(10):
        fake.files[f"f{i}.jpg"] = bytes([i]) * 10
    fake.delay_s = 0.05

    def broken(path: Path) -> tuple[str, int]:
        raise RuntimeError("bug in the check")

    jobs = [DownloadJob(f"f{i}", fake.base + UPLOAD_PREFIX + f"f{i}.jpg", f"f{i}")
            for i in range(10)]
    with client(concurrency=2) as c, pytest.raises(RuntimeError, match="bug in the check"):
        c.download_many(jobs, tmp_path, broken)
    time.sleep(0.3)
    assert fake.image_requests() <= 3  # the other worker's request in flight, not the queue
