"""Shared fixtures: where the reference material lives, and skipping when it is absent.

Reference material (Twitter's model, the original program's outputs) is never committed; it is
found through ``CROPAUDIT_SHARED`` (default ``../shared`` beside the checkout). Tests that need
it skip with a clear reason elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.wikimedia import FakeWikimedia

#: Fails the session on a test over `max_test_seconds` (pyproject.toml).
pytest_plugins = ["support.durations"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    return Path(os.environ.get("CROPAUDIT_SHARED") or REPO_ROOT.parent / "shared")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    root = shared_root()
    if not root.is_dir():
        pytest.skip(f"reference material not found at {root} (set CROPAUDIT_SHARED)")
    return root


@pytest.fixture(scope="session")
def reference_dir(shared_dir: Path) -> Path:
    ref = shared_dir / "reference"
    if not (ref / "outputs").is_dir():
        pytest.skip(f"original program's reference outputs not found under {ref}")
    return ref


@pytest.fixture(scope="session")
def fastgaze_path(shared_dir: Path) -> Path:
    env = os.environ.get("CROPAUDIT_FASTGAZE")
    path = Path(env) if env else shared_dir / "models" / "fastgaze.vxm"
    if not path.is_file():
        pytest.skip(f"fastgaze.vxm not found at {path} (set CROPAUDIT_FASTGAZE)")
    return path


@pytest.fixture(scope="session")
def services():
    """Local Slurm / PostgreSQL / S3 / MLflow started by scripts/services (tests marked
    ``cluster``); each test skips with the reason when its service cannot start."""
    from support.services import Services

    started = Services()
    yield started
    started.stop_all()


@pytest.fixture(scope="session")
def quick_audit(tmp_path_factory):
    """`snakemake --configfile config/quick.yaml --logger rich`, as the README gives it, in a
    folder of its own: (folder, the completed process). Shared by tests/test_workflow.py."""
    from support.workflow import REPO_ROOT, snakemake

    root = tmp_path_factory.mktemp("quick")
    return root, snakemake(root, "--logger", "rich", configs=(REPO_ROOT / "config/quick.yaml",))


@pytest.fixture(scope="session")
def tiny_audit(tmp_path_factory):
    """The tiny audit (tests/configs/tiny.yaml) run locally: what the Slurm run must reproduce
    and what the MLflow server tests log. Returns (folder, wall seconds)."""
    import time

    from support.services import TINY_AUDIT
    from support.workflow import snakemake, write_yaml

    root = tmp_path_factory.mktemp("local") / "audit"
    overlay = write_yaml(root.parent / "tiny-audit.yaml", TINY_AUDIT)
    started = time.monotonic()
    snakemake(root, configs=(overlay,))
    return root, time.monotonic() - started


@pytest.fixture
def fake_wikimedia() -> Iterator[FakeWikimedia]:
    """A running fake of Wikidata's query service and Commons (127.0.0.1)."""
    server = FakeWikimedia().start()
    yield server
    server.stop()
