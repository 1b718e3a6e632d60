"""fetch-model: download from a pinned URL with sha256 check, or copy a local override."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cropaudit.engine.model_store import (
    ENV_LOCAL_MODEL,
    ModelParams,
    fetch_model,
    resolve_model_path,
)
from cropaudit.errors import DownloadError, ModelFileError
from support.http import serve
from test_vxm import tiny_model

MODEL = tiny_model(np.random.default_rng(0))
DIGEST = hashlib.sha256(MODEL).hexdigest()


def ok(path: str, n: int):
    return 200, {}, MODEL


@pytest.fixture(autouse=True)
def no_env_override(monkeypatch):
    monkeypatch.delenv(ENV_LOCAL_MODEL, raising=False)


def test_download_verifies_and_stores(tmp_path) -> None:
    with serve({"/m.vxm": ok}) as (base, counts):
        params = ModelParams(url=f"{base}/m.vxm", sha256=DIGEST, path=str(tmp_path / "m.vxm"))
        path = fetch_model(params)
        assert path.read_bytes() == MODEL
        fetch_model(params)  # present and verified: no second request
        assert counts["/m.vxm"] == 1


def test_wrong_checksum_leaves_nothing_behind(tmp_path) -> None:
    with serve({"/m.vxm": lambda p, n: (200, {}, MODEL[:-1] + b"\x07")}) as (base, _):
        params = ModelParams(url=f"{base}/m.vxm", sha256=DIGEST, path=str(tmp_path / "m.vxm"))
        with pytest.raises(ModelFileError, match=r"sha256 .* does not match"):
            fetch_model(params)
    assert list(tmp_path.iterdir()) == []


def test_server_error_then_success_is_retried(tmp_path) -> None:
    flaky = lambda p, n: (503, {"Retry-After": "0"}, b"busy") if n == 1 else ok(p, n)  # noqa: E731
    with serve({"/m.vxm": flaky}) as (base, counts):
        params = ModelParams(url=f"{base}/m.vxm", sha256=DIGEST, path=str(tmp_path / "m.vxm"))
        assert fetch_model(params).read_bytes() == MODEL
        assert counts["/m.vxm"] == 2


def test_missing_file_on_server_is_a_clear_error(tmp_path) -> None:
    with serve({}) as (base, _):
        params = ModelParams(url=f"{base}/m.vxm", sha256=DIGEST, path=str(tmp_path / "m.vxm"))
        with pytest.raises(DownloadError, match="HTTP 404"):
            fetch_model(params)
    assert not (tmp_path / "m.vxm").exists()


def test_local_override_replaces_download(tmp_path, monkeypatch) -> None:
    local = tmp_path / "local.vxm"
    local.write_bytes(MODEL)
    monkeypatch.setenv(ENV_LOCAL_MODEL, str(local))
    params = ModelParams(url="http://127.0.0.1:9/unreachable", sha256=DIGEST,
                         path=str(tmp_path / "out" / "m.vxm"))
    assert fetch_model(params).read_bytes() == MODEL
    local.write_bytes(MODEL + b"x")
    (tmp_path / "out" / "m.vxm").unlink()
    with pytest.raises(ModelFileError, match="does not match"):
        fetch_model(params)


def test_resolve_model_path_explains_what_to_do(tmp_path) -> None:
    params = ModelParams(path=str(tmp_path / "absent.vxm"))
    with pytest.raises(ModelFileError, match="cropaudit fetch-model"):
        resolve_model_path(params)
    with pytest.raises(ModelFileError, match="not found"):
        resolve_model_path(params, tmp_path / "nope.vxm")


def test_fetch_model_command_with_real_model(tmp_path, fastgaze_path) -> None:
    """The CLI copies the shared fastgaze.vxm and checks it against the pinned digest."""
    env = {**os.environ, ENV_LOCAL_MODEL: str(fastgaze_path)}
    out = tmp_path / "models" / "fastgaze.vxm"
    proc = subprocess.run(
        [sys.executable, "-m", "cropaudit", "fetch-model", "--out", str(out)],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert Path(proc.stdout.strip()) == out
    assert out.read_bytes() == Path(fastgaze_path).read_bytes()
