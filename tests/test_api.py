"""The public Python API: what ``__all__`` exports, its doctests, and a cheap ``import``.

:func:`cropaudit.audit` runs the whole workflow; that run is in the end-to-end test
(test_user_project.py), which also checks its comparisons equal the workflow's. Here: what it
refuses before anything runs.
"""

from __future__ import annotations

import doctest
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import cropaudit
import cropaudit.api
import cropaudit.packaged
from cropaudit.errors import CropauditError

REPO = Path(__file__).resolve().parents[1]
EXPORTS = {"AuditResult", "Cropper", "Saliency", "audit", "load_cropper", "saliency"}


@pytest.fixture(scope="module")
def example_image(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("api") / "example.png"
    Image.fromarray(np.full((200, 300, 3), 128, np.uint8)).save(path)
    return str(path)


def test_only_what_all_exports(example_image):
    """A user's session that imports nothing but ``from cropaudit import *``."""
    names: dict[str, object] = {}
    exec("from cropaudit import *", names)
    public = {k for k in names if not k.startswith("__")}
    assert public == EXPORTS == set(cropaudit.__all__)
    saliency, load_cropper = names["saliency"], names["load_cropper"]
    Saliency, Cropper, AuditResult = names["Saliency"], names["Cropper"], names["AuditResult"]
    cropper = load_cropper("center")
    assert isinstance(cropper, Cropper)
    result = saliency(example_image, cropper)
    assert isinstance(result, Saliency)
    assert result.cropper == "center" and result.has_map and len(result.crops) == 5
    pil = saliency(Image.open(example_image), "smartcrop", aspect_ratios=[1.0])
    assert pil.cropper == "smartcrop" and len(pil.crops) == 1 and pil.source == "<PngImageFile>"
    no_map = saliency(np.asarray(Image.open(example_image).convert("RGB")), "face-center")
    assert not no_map.has_map and no_map.map.shape == (0, 0) and no_map.point == (150, 100)
    assert callable(names["audit"]) and AuditResult.__doc__


def test_every_export_is_documented_and_typed():
    for name in EXPORTS - {"saliency"}:
        obj = getattr(cropaudit.api, name)
        assert (obj.__doc__ or "").strip(), name
    for fn in (cropaudit.api.saliency, cropaudit.api.load_cropper, cropaudit.api.audit):
        doc = fn.__doc__ or ""
        assert "return" in fn.__annotations__, fn.__name__
        assert "Parameters" in doc and "Returns" in doc, fn.__name__
    assert ">>>" in (cropaudit.api.saliency.__doc__ or "")
    assert ">>>" in (cropaudit.api.load_cropper.__doc__ or "")


@pytest.mark.parametrize("module", [cropaudit.api, cropaudit.packaged])
def test_doctests(module, example_image):
    result = doctest.testmod(module, extraglobs={"example_image": example_image,
                                                 "cropaudit": cropaudit},
                             optionflags=doctest.ELLIPSIS)
    assert result.attempted and not result.failed


def test_docs_api_examples(example_image):
    result = doctest.testfile(str(REPO / "docs" / "api.md"), module_relative=False,
                              globs={"example_image": example_image},
                              optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and not result.failed


def test_import_is_cheap_and_saliency_is_the_api_function():
    """``cropaudit.saliency`` is :func:`cropaudit.api.saliency`, resolved on first use; the
    engine is its own package, and importing it (or the datasets) leaves the function alone."""
    code = (
        "import inspect, sys, cropaudit\n"
        "heavy = [m for m in ('numpy', 'pandas', 'scipy', 'matplotlib', 'tensorflow', "
        "'snakemake', 'cropaudit.api') if m in sys.modules]\n"
        "print(heavy)\n"
        "import cropaudit.engine.types, cropaudit.engine.loader, cropaudit.datasets.validate\n"
        "from cropaudit import api\n"
        "print(cropaudit.saliency is api.saliency, inspect.isfunction(cropaudit.saliency))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out == ["[]", "True True"]


def test_saliency_errors_are_one_line(tmp_path, example_image):
    with pytest.raises(CropauditError, match=r"no such file$"):
        cropaudit.saliency(tmp_path / "none.png", cropper="center")
    with pytest.raises(CropauditError, match=r"^unknown cropper 'nope' \(known: fastgaze"):
        cropaudit.saliency(example_image, cropper="nope")


@pytest.mark.parametrize(
    ("images", "kwargs", "message"),
    [
        (42, {}, "images: a DataFrame or a CSV/Parquet file, not int"),
        (pd.DataFrame({"file": ["a.jpg"], "race": ["x"]}), {},
         "images: no 'path' column (has: file, race)"),
        (pd.DataFrame({"path": ["a.jpg"]}), {}, "images: no attribute columns besides the paths"),
        (pd.DataFrame({"path": ["a.jpg"], "race": ["x"]}), {"attributes": ["gender"]},
         "images: no attribute column 'gender'"),
        (pd.DataFrame({"path": ["a.jpg"], "race": ["x"]}), {"croppers": ["nope"]},
         "cropaudit.audit: croppers: Value error, unknown cropper 'nope'"),
    ],
)
def test_audit_refuses_bad_input_before_running(tmp_path, images, kwargs, message):
    with pytest.raises(CropauditError) as err:
        cropaudit.audit(images, folder=tmp_path / "audit", **kwargs)
    assert str(err.value).startswith(message)
    assert not (tmp_path / "audit" / "results").exists()


def test_audit_will_not_write_into_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep")
    with pytest.raises(CropauditError, match="not empty and not an earlier audit's folder"):
        cropaudit.audit(None, folder=tmp_path)


def test_a_failed_stage_is_named_with_its_logs_last_line():
    """What the workflow's onerror handler prints, as audit() reads it (a real failing run
    takes a minute: checked by hand, not here)."""
    from cropaudit.api import _failure

    text = ("Building DAG of jobs...\n"
            "cropaudit: logs/croppers/smartcrop/saliency-0.log ends with:\n"
            "    INFO loading\n"
            "    cropaudit pair-saliency: error: cropper smartcrop: option skin_weight='abc' "
            "is not a number\n"
            "cropaudit: a step failed; the end of its log is above\n")
    assert _failure(text) == ("logs/croppers/smartcrop/saliency-0.log: cropaudit pair-saliency: "
                              "error: cropper smartcrop: option skin_weight='abc' is not a number")
    assert _failure("cropaudit: error: config.yaml: sampling.n: Input should be greater "
                    "than 0\n") == "error: config.yaml: sampling.n: Input should be greater than 0"
