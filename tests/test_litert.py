"""The LiteRT model cache: where conversions live, what their names depend on, reuse."""

from __future__ import annotations

import numpy as np
import pytest

from cropaudit.engine import litert
from cropaudit.errors import ModelFileError


def test_cache_dir_precedence(monkeypatch, tmp_path) -> None:
    monkeypatch.delenv(litert.ENV_CACHE_DIR, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert litert.cache_dir() == tmp_path / "xdg" / "cropaudit" / "litert"
    assert litert.cache_dir(tmp_path / "conf") == tmp_path / "conf"
    monkeypatch.setenv(litert.ENV_CACHE_DIR, str(tmp_path / "env"))
    assert litert.cache_dir(tmp_path / "conf") == tmp_path / "env"


def test_cache_name_changes_with_everything_that_shapes_the_conversion() -> None:
    a, b = "a" * 64, "b" * 64
    names = {
        litert.cache_name(a, "fp32", False),
        litert.cache_name(b, "fp32", False),
        litert.cache_name(a, "int8", False),
        litert.cache_name(a, "fp32", True),
    }
    assert len(names) == 4


def test_existing_conversion_is_reused_without_converting(tmp_path) -> None:
    """A cached file is returned as is: no TensorFlow, no rewrite (stack is never used)."""
    sha = "c" * 64
    cached = tmp_path / litert.cache_name(sha, "fp32", False)
    cached.write_bytes(b"converted")
    got = litert.converted_model(None, sha, precision="fp32",  # type: ignore[arg-type]
                                 apply_gaussian=False, directory=tmp_path)
    assert got == cached and cached.read_bytes() == b"converted"


def test_corrupt_conversion_is_refused_naming_the_file(tmp_path) -> None:
    bad = tmp_path / "broken.tflite"
    bad.write_bytes(b"not a flatbuffer")
    with pytest.raises(ModelFileError, match=r"broken\.tflite"):
        litert.LiteNetwork(bad)


def test_top_margin() -> None:
    assert litert.top_margin(np.array([[0.5, 0.2], [0.1, 0.45]])) == pytest.approx(0.05)
    assert litert.top_margin(np.array([[0.3, 0.3]])) == 0.0
    assert litert.top_margin(np.array([[0.3]])) == float("inf")
