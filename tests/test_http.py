"""The polite HTTP client on its own, against the local fake image host."""

from __future__ import annotations

import email.utils
import os
import time
from pathlib import Path
from typing import Any

import pytest

from cropaudit.datasets.http import DownloadJob, PoliteClient, parse_retry_after
from cropaudit.datasets.params import HttpParams
from cropaudit.errors import DownloadError
from support.wikimedia import UPLOAD_PREFIX, FakeWikimedia


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


def test_retry_after_beyond_the_limit_fails_instead_of_waiting(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    fake.files["a.jpg"] = b"x" * 10
    fake.plans["a.jpg"] = ["429", "ok"]
    fake.retry_after = "3600"
    start = time.monotonic()
    with client(retry_after_max_s=1) as c:
        report = c.download_many([DownloadJob("a", fake.base + UPLOAD_PREFIX + "a.jpg", "a")],
                                 tmp_path, accept_all)
    assert time.monotonic() - start < 5
    assert report.failed == {"a": "HTTP 429: Retry-After 3600 s exceeds retry_after_max_s"}
    assert "failed 1 (HTTP 429: Retry-After 3600 s exceeds retry_after_max_s: 1)" in (
        report.summary()
    )


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


def test_fetch_gives_up_with_one_line(fake: FakeWikimedia) -> None:
    fake.plans["sparql"] = ["500"]
    match = r"/sparql: HTTP 500 \(after 3 attempts\)"
    with client() as c, pytest.raises(DownloadError, match=match):
        c.fetch(fake.base + "/sparql", params={"query": "x"})
    assert len(fake.requests_to("/sparql")) == 3


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    with client() as c:
        report = c.download_many([DownloadJob("a", "http://127.0.0.1:9/x.jpg", "a")], tmp_path,
                                 accept_all)
    assert report.failed == {"a": "connection error (after 3 attempts)"}
    assert list(tmp_path.iterdir()) == []  # no partial file left behind
