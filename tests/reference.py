"""Parsing the original program's outputs in ../shared/reference (test helper)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ReferenceOutput:
    salient_point: tuple[int, int]
    crops: list[tuple[int, int, int, int]]
    points: list[tuple[float, float, float]]


def parse_output(path: Path) -> ReferenceOutput:
    """Parse a `candidate_crops` stdout file."""
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    x, y = (int(v) for v in lines[0])
    crops = [tuple(int(v) for v in ln) for ln in lines[1:] if len(ln) == 4]
    points = [tuple(float(v) for v in ln) for ln in lines[1:] if len(ln) == 3]
    return ReferenceOutput((x, y), crops, points)  # type: ignore[arg-type]


def reference_images(reference_dir: Path) -> list[tuple[str, Path]]:
    """(name, image path) for every reference image that has outputs."""
    out = []
    for img in sorted((reference_dir / "images").iterdir()):
        name = img.stem
        if (reference_dir / "outputs" / f"{name}.out").exists():
            out.append((name, img))
    return out
