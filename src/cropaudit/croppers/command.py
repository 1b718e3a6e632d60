"""``command``: any external cropper program, audited like the built-ins.

The program is given as a command template (``--command`` on the command line, option
``template``): ``{image}`` is replaced by the image's path and a lone ``{aspect_ratios}``
argument by the requested ratios, one argument each. It is run without a shell, once per
image. On stdout it prints either

- the **candidate-crops text** of Twitter's original program: ``x y`` (the salient point),
  then ``left top width height`` lines (crops) and optionally ``x y score`` lines (the map,
  row by row); or
- **JSON** ``{"x": …, "y": …}``: the salient point only.

Crops printed by the program are used as printed when there is one per requested ratio (paired
in order); otherwise crops follow the original rule around the printed point. Points printed
with scores become the map (rows = runs of equal y). Arrays (pipeline composites) are written
to a temporary PNG first. A non-zero exit, a timeout or unparsable output fails that image
with one line naming the program.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from cropaudit.croppers.base import (
    CropperContext,
    CropperInfo,
    CropperSpec,
    Cropping,
    PerImageCropper,
    number_option,
    point_cropping,
    resolve_ratios,
)
from cropaudit.engine.types import ImageInput, SaliencyResult
from cropaudit.errors import ConfigError, CropauditError
from cropaudit.geometry.crops import Crop
from cropaudit.imaging.source import open_image, oriented_size

IMAGE = "{image}"
RATIOS = "{aspect_ratios}"


def parse_template(template: str) -> list[str]:
    """The template's arguments; it must name the image."""
    try:
        argv = shlex.split(template)
    except ValueError as exc:
        raise ConfigError(f"command template: {exc}") from None
    if not argv:
        raise ConfigError("command template is empty (give one with --command)")
    if not any(IMAGE in a for a in argv):
        raise ConfigError(f"command template {template!r} does not contain {IMAGE}")
    return argv


def command_line(argv: Sequence[str], image: str, ratios: Sequence[float]) -> list[str]:
    """Arguments of one run: ``{image}`` substituted, ``{aspect_ratios}`` expanded."""
    out: list[str] = []
    for a in argv:
        if a == RATIOS:
            out += [format(r, "g") for r in ratios]
        else:
            out.append(a.replace(IMAGE, image))
    return out


def _numbers(line: str, what: str) -> list[float]:
    try:
        return [float(v) for v in line.split()]
    except ValueError:
        raise CropauditError(f"{what}: cannot parse output line {line!r}") from None


def parse_output(text: str, width: int, height: int, ratios: Sequence[float], source: str,
                 name: str, what: str) -> Cropping:
    """A program's stdout (candidate-crops text or JSON) as a cropping."""
    stripped = text.strip()
    if not stripped:
        raise CropauditError(f"{what}: printed nothing")
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
            point = (int(record["x"]), int(record["y"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise CropauditError(f"{what}: JSON output needs numbers x and y ({exc})") from None
        _check_point(point, width, height, what)
        return point_cropping(source, width, height, point, name, ratios, {"format": "json"})
    lines = [ln for ln in stripped.splitlines() if ln.strip() and not ln.startswith("#")]
    first = _numbers(lines[0], what)
    if len(first) != 2:
        raise CropauditError(f"{what}: first line must be the salient point 'x y', "
                             f"got {lines[0]!r}")
    point = (int(first[0]), int(first[1]))
    _check_point(point, width, height, what)
    boxes: list[list[float]] = []
    cells: list[list[float]] = []
    for ln in lines[1:]:
        values = _numbers(ln, what)
        if len(values) == 4:
            boxes.append(values)
        elif len(values) == 3:
            cells.append(values)
        else:
            raise CropauditError(f"{what}: cannot parse output line {ln!r}")
    result = _result(source, width, height, point, name, np.asarray(cells, dtype=np.float32))
    if len(boxes) == len(ratios) and boxes:
        crops = tuple(Crop(int(b[0]), int(b[1]), int(b[2]), int(b[3]), r)
                      for b, r in zip(boxes, ratios, strict=True))
        return Cropping(result, crops)
    rule = point_cropping(source, width, height, point, name, ratios)
    return Cropping(result, rule.crops)


def _check_point(point: tuple[int, int], width: int, height: int, what: str) -> None:
    x, y = point
    if not (0 <= x < width and 0 <= y < height):
        raise CropauditError(f"{what}: salient point ({x}, {y}) is outside the "
                             f"{width}x{height} image")


def _result(source: str, width: int, height: int, point: tuple[int, int], name: str,
            cells: np.ndarray) -> SaliencyResult:
    """Point-only result, or with the printed map laid out row by row."""
    if cells.size == 0:
        cells = np.zeros((0, 3), dtype=np.float32)
        shape: tuple[int, int] = (0, 0)
    else:
        first_y = cells[0, 1]
        cols = int(np.argmax(cells[:, 1] != first_y)) or len(cells)
        shape = (len(cells) // cols, cols) if len(cells) % cols == 0 else (1, len(cells))
    return SaliencyResult(
        source=source, width=width, height=height, grid_x=cells[:, 0].reshape(shape),
        grid_y=cells[:, 1].reshape(shape), scores=cells[:, 2].reshape(shape),
        salient_point=point, model=name,
    )


class CommandCropper(PerImageCropper):
    """An external program behind the cropper interface (see the module docstring)."""

    def __init__(self, template: str, timeout: float = 120.0) -> None:
        self.argv = parse_template(template)
        self.template = template
        self.timeout = timeout
        self.info = CropperInfo(
            "command", f"external: {Path(self.argv[0]).name}", COMMAND.licence, False,
            COMMAND.description, {"template": template, "timeout_s": timeout},
        )

    def crop_one(self, image: ImageInput, source: str,
                 aspect_ratios: Sequence[float] | None) -> Cropping:
        if isinstance(image, np.ndarray):
            pixels = self.load(image, source)
            with tempfile.TemporaryDirectory(prefix="cropaudit-command-") as tmp:
                path = Path(tmp) / "image.png"
                Image.fromarray(pixels.rgb).save(path)
                return self._run(path, pixels.width, pixels.height, source, aspect_ratios)
        with open_image(image, self.hard_limit, name=source) as img:
            width, height = oriented_size(img)
        return self._run(Path(image), width, height, source, aspect_ratios)

    def _run(self, path: Path, width: int, height: int, source: str,
             aspect_ratios: Sequence[float] | None) -> Cropping:
        ratios = resolve_ratios(width, height, aspect_ratios)
        argv = command_line(self.argv, os.fspath(path), ratios)
        what = f"{source}: command {self.template!r}"
        try:
            done = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                                  check=False)
        except FileNotFoundError:
            raise CropauditError(f"{what}: program not found") from None
        except subprocess.TimeoutExpired:
            raise CropauditError(f"{what}: timed out after {self.timeout:g} s") from None
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or [""])[-1]
            raise CropauditError(f"{what}: exit status {done.returncode} {last}".rstrip())
        return parse_output(done.stdout, width, height, ratios, source, self.name, what)


def build_command(context: CropperContext) -> CommandCropper:
    template = context.options.get("template", "")
    timeout = number_option(context.options, "timeout", 120.0, "command")
    return CommandCropper(template, timeout)


COMMAND = CropperSpec(
    name="command", factory=build_command, has_map=False,
    licence="the program's own",
    description="an external program: command template → candidate-crops text or JSON {x, y}",
    version=lambda: "external", offline=False,
)
