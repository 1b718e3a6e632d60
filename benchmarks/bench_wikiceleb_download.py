"""Throughput of the wikiceleb pipeline against a local server (no internet, no Wikimedia load).

Measures what cropaudit itself costs per image (HTTP handling, full decode to verify, sha256,
table validation) with Wikimedia's etiquette settings (2 connections, no bandwidth cap here so
the client is the bottleneck), plus a simulated network latency per image request. Also times a
rerun, which only verifies the files already on disk. Real runs are bounded by the network and
by Wikimedia's thumbnail servers, not by these numbers.

    PYTHONPATH=src python benchmarks/bench_wikiceleb_download.py --images 200 --latency 0.1
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from cropaudit.config import parse_params  # noqa: E402
from cropaudit.datasets import wikiceleb  # noqa: E402
from support.wikimedia import FakeWikimedia  # noqa: E402


def portrait(seed: int, width: int = 960, height: int = 1280) -> bytes:
    """A photo-like JPEG: smooth gradient plus mild noise (about the size of a Commons thumb)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    base = np.stack([x / width * 255, y / height * 255, (x + y) / (width + height) * 255], -1)
    img = np.clip(base + rng.normal(0, 6, base.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200)
    ap.add_argument("--latency", type=float, default=0.1, help="seconds added per image request")
    ap.add_argument("--concurrency", type=int, default=2)
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)

    fake = FakeWikimedia(delay_s=args.latency).start()
    t = time.perf_counter()
    for i in range(args.images):
        fake.add_person(f"Q{1000 + i}", f"Person_{i}.jpg",
                        "Q6581072" if i % 2 else "Q6581097",
                        "Q49085" if i % 4 < 2 else "Q42406", portrait(i))
    total_mb = sum(len(b) for b in fake.files.values()) / 1e6
    print(f"generated {args.images} images, {total_mb:.1f} MB "
          f"({total_mb / args.images * 1000:.0f} kB each) in {time.perf_counter() - t:.1f} s")

    params = parse_params({"dataset": {"source": "wikiceleb", "wikiceleb": {
        "sparql_endpoint": fake.base + "/sparql", "commons_api": fake.base + "/w/api.php",
        "http": {"contact": "bench@example.org", "concurrency": args.concurrency,
                 "max_mbps": None},
    }}})
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "data" / "wikiceleb" / "images.parquet"
        t = time.perf_counter()
        df = wikiceleb.build(params, out)
        first = time.perf_counter() - t
        asked, media = len(fake.log), len(fake.requests_to("/upload/"))
        t = time.perf_counter()
        fake.reset_log()
        wikiceleb.build(params, out)
        rerun = time.perf_counter() - t
        asked_again = len(fake.log)
    fake.stop()
    ideal = args.images * args.latency / args.concurrency
    print(f"requests: {asked} in all, {media} to the media host "
          f"({media / len(df):.2f} per image, no redirects)")
    print(f"first run: {len(df)} images in {first:.1f} s = {len(df) / first:.1f} images/s, "
          f"{total_mb / first:.1f} MB/s (latency alone: {ideal:.1f} s)")
    print(f"rerun (verify only): {rerun:.1f} s = {len(df) / rerun:.1f} images/s, "
          f"{asked_again} requests")


if __name__ == "__main__":
    main()
