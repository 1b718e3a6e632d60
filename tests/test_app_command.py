"""`cropaudit app`: flags, the params section, and start-up errors as one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import pytest

from cropaudit.cli import main
from cropaudit.config import load_params
from cropaudit.errors import ConfigError
from support.http import wait_for_page
from support.workflow import REPO_ROOT, free_port


def _answers(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_app_flags_override_params_and_reach_the_server(tmp_path):
    """--host/--port win over app.host/app.port, --model reaches the model registry, and
    SIGTERM stops the server cleanly (exit 0)."""
    flag_port, params_port = free_port(), free_port()
    params = tmp_path / "params.yaml"
    params.write_text(f"app:\n  host: 0.0.0.0\n  port: {params_port}\n")
    missing_model = tmp_path / "no-such-model.vxm"
    log = tmp_path / "app.log"
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"), TF_CPP_MIN_LOG_LEVEL="2",
               MLFLOW_DISABLE_TELEMETRY="true")
    args = [sys.executable, "-m", "cropaudit", "app", "--host", "127.0.0.1", "--port",
            str(flag_port), "--params", str(params), "--model", str(missing_model),
            "--no-preload"]
    with open(log, "w") as out:
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
    try:
        page = wait_for_page(f"http://127.0.0.1:{flag_port}/", proc, log)
        assert "<title>cropaudit · crop explorer</title>" in page
        assert not _answers(params_port)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    text = log.read_text()
    assert f"serving the crop explorer on http://127.0.0.1:{flag_port}/" in text
    # the explicit model file was the one looked for; the page falls back to the baseline
    assert f"{missing_model}: model file not found" in text


def test_app_section_of_params(tmp_path):
    p = tmp_path / "params.yaml"
    p.write_text("app:\n  port: 9123\n  top_k: 8\n  max_upload_pixels: 1000000\n")
    params = load_params(p)
    assert (params.app.port, params.app.top_k, params.app.max_upload_pixels) == (9123, 8, 10**6)
    assert params.app.host == "127.0.0.1"  # local only unless asked
    p.write_text("app:\n  prot: 9123\n")
    with pytest.raises(ConfigError, match=r"app\.prot"):
        load_params(p)


def test_bad_port_is_one_line_error(capsys):
    assert main(["app", "--port", "70000", "--no-preload"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "cropaudit app: error: --port must be between 1 and 65535, got 70000"
