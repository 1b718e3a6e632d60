"""The guard on test durations (tests/support/durations.py) fails a session that has a test
over `max_test_seconds`, names it, and spares the tests named as exceptions."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def run_pytest(tmp_path: Path, exceptions: list[str]) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sleepy.py").write_text(
        "import time\n\ndef test_slow():\n    time.sleep(1.2)\n\ndef test_quick():\n    pass\n")
    listed = "".join(f"    {e}\n" for e in exceptions)
    (tmp_path / "pytest.ini").write_text(
        f"[pytest]\nmax_test_seconds = 1\nmax_test_seconds_exceptions =\n{listed}")
    env = {**os.environ, "PYTHONPATH": str(TESTS)}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "support.durations",
                           "-p", "no:cacheprovider", str(tmp_path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_a_test_over_the_limit_fails_the_session_by_name(tmp_path):
    proc = run_pytest(tmp_path, [])
    assert proc.returncode == 1, proc.stdout
    assert "2 passed" in proc.stdout
    assert "test_sleepy.py::test_slow: 1 s, over max_test_seconds (1 s)" in proc.stdout
    assert "test_quick" not in proc.stdout.split("passed")[-1]


def test_a_named_exception_passes(tmp_path):
    proc = run_pytest(tmp_path, ["test_sleepy.py::test_slow"])
    assert proc.returncode == 0, proc.stdout
