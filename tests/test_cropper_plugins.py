"""Third-party croppers: a real wheel installed with pip, found through its entry points.

The test writes a tiny distribution (``corner-cropper``) as a wheel, installs it with
``pip install --no-deps --no-index --target`` (no network), and runs ``cropaudit`` in a
subprocess with that directory on PYTHONPATH: the registry sees it exactly as it would see
any installed package, through importlib.metadata.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

SRC = Path(__file__).resolve().parents[1] / "src"

PLUGIN = textwrap.dedent('''
    """A cropper that always points at the first quarter of the image."""
    from cropaudit.croppers.base import CropperInfo, CropperSpec, PixelCropper
    from cropaudit.croppers.base import point_cropping


    class Corner(PixelCropper):
        info = CropperInfo("corner", "corner 0.1", "0BSD", False, "quarter point")

        def crop_pixels(self, pixels, source, aspect_ratios):
            point = (pixels.width // 4, pixels.height // 4)
            return point_cropping(source, pixels.width, pixels.height, point, "corner",
                                  aspect_ratios)


    SPEC = CropperSpec(name="corner", factory=lambda context: Corner(), has_map=False,
                       licence="0BSD", description="quarter point",
                       version=lambda: "corner 0.1")
''')

ENTRY_POINTS = textwrap.dedent("""
    [cropaudit.croppers]
    corner = corner_cropper:SPEC
    broken = corner_cropper_missing:SPEC
""")


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_wheel(folder: Path) -> Path:
    """A minimal valid wheel (PEP 427) of the plugin distribution."""
    dist = "corner_cropper-0.1.dist-info"
    files = {
        "corner_cropper.py": PLUGIN.encode(),
        f"{dist}/METADATA": b"Metadata-Version: 2.1\nName: corner-cropper\nVersion: 0.1\n",
        f"{dist}/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                         b"Tag: py3-none-any\n",
        f"{dist}/entry_points.txt": ENTRY_POINTS.encode(),
    }
    record = [_record_line(n, d) for n, d in files.items()] + [f"{dist}/RECORD,,"]
    files[f"{dist}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = folder / "corner_cropper-0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return wheel


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("plugin")
    wheel = build_wheel(root)
    target = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                    "--no-index", "--target", str(target), str(wheel)], check=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(target), str(SRC)])
    return env


def _cropaudit(env, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "cropaudit", *argv], env=env,
                          capture_output=True, text=True, timeout=300)


def test_installed_plugin_is_listed_and_a_broken_one_reported(plugin_env):
    done = _cropaudit(plugin_env, "croppers", "--format", "json")
    assert done.returncode == 0, done.stderr
    rows = {r["name"]: r for r in map(json.loads, done.stdout.splitlines())}
    assert rows["corner"] == {"name": "corner", "version": "corner 0.1", "map": False,
                              "licence": "0BSD", "origin": "plugin", "offline": True,
                              "description": "quarter point", "memory_mb": None}
    assert "smartcrop" in rows and "broken" not in rows
    assert "entry point 'broken'" in done.stderr and "cannot be loaded" in done.stderr


def test_installed_plugin_runs_through_the_saliency_command(plugin_env, tmp_path):
    path = tmp_path / "img.png"
    Image.fromarray(np.zeros((100, 200, 3), np.uint8)).save(path)
    done = _cropaudit(plugin_env, "saliency", str(path), "--cropper", "corner",
                      "--format", "json", "--aspect-ratios", "1")
    assert done.returncode == 0, done.stderr
    record = json.loads(done.stdout)
    assert record["model"] == "corner" and record["salient_point"] == [50, 25]
    assert record["crops"] == [{"aspect_ratio": 1.0, "left": 0, "top": 0, "width": 100,
                                "height": 100}]


def test_without_the_package_the_plugin_is_unknown(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(SRC))
    path = tmp_path / "img.png"
    Image.fromarray(np.zeros((10, 20, 3), np.uint8)).save(path)
    done = _cropaudit(env, "saliency", str(path), "--cropper", "corner")
    assert done.returncode == 2 and "unknown cropper 'corner'" in done.stderr
