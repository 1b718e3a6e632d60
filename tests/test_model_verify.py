"""The model file is verified against model.sha256 on every load (issue 15, defect 14)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from cropaudit.cli import EXIT_INPUT, main
from cropaudit.engine.model_store import ModelParams, _digest_of, verify_model_file
from cropaudit.errors import ModelFileError


def test_a_file_that_is_not_the_declared_one_is_refused(tmp_path: Path) -> None:
    model = tmp_path / "model.vxm"
    model.write_bytes(b"weights v1")
    digest = hashlib.sha256(b"weights v1").hexdigest()
    verify_model_file(model, ModelParams(sha256=digest))
    model.write_bytes(b"weights v2")  # edited after it was verified
    with pytest.raises(ModelFileError) as err:
        verify_model_file(model, ModelParams(sha256=digest))
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"{model}: sha256 ")
    assert "model.custom: true" in message
    assert hashlib.sha256(b"weights v2").hexdigest() in message  # the digest to declare


def test_custom_or_unpinned_models_are_accepted(tmp_path: Path) -> None:
    model = tmp_path / "mine.vxm"
    model.write_bytes(b"my own weights")
    verify_model_file(model, ModelParams(custom=True))
    verify_model_file(model, ModelParams(sha256=None))
    verify_model_file(model, ModelParams(sha256=hashlib.sha256(b"my own weights").hexdigest()))
    with pytest.raises(ModelFileError):
        verify_model_file(model, ModelParams())  # the released model's digest by default


def test_the_check_is_cached_per_path_size_and_mtime(tmp_path: Path) -> None:
    model = tmp_path / "model.vxm"
    model.write_bytes(b"abc")
    params = ModelParams(sha256=hashlib.sha256(b"abc").hexdigest())
    _digest_of.cache_clear()
    for _ in range(3):
        verify_model_file(model, params)
    assert (_digest_of.cache_info().misses, _digest_of.cache_info().hits) == (1, 2)
    model.write_bytes(b"abd")  # same size, new mtime: hashed again, and refused
    with pytest.raises(ModelFileError):
        verify_model_file(model, params)
    assert _digest_of.cache_info().misses == 2


def test_saliency_refuses_altered_weights_unless_declared_custom(
    tmp_path: Path, fastgaze_path: Path, capsys
) -> None:
    from PIL import Image

    photo = tmp_path / "photo.png"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(photo)
    altered = tmp_path / "altered.vxm"
    data = bytearray(fastgaze_path.read_bytes())
    data[-1] ^= 0x80  # the sign bit of the last weight: a negated weight
    altered.write_bytes(bytes(data))

    assert main(["saliency", str(photo), "--model", str(altered)]) == EXIT_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "altered.vxm: sha256" in err[0] and "model.custom" in err[0]

    params = tmp_path / "params.yaml"
    params.write_text("model:\n  custom: true\n")
    assert main(["saliency", str(photo), "--model", str(altered), "--params", str(params)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 6  # salient point + 5 crops
