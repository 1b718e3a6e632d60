"""Composition probes: the audit's own tuples, re-composed with one thing changed. Pure.

A probe setting turns the rows of a baseline tuple (pairs table, docs/data-contracts.md) into
the rows of another composite of the *same images*, through the one geometry code
(:func:`cropaudit.geometry.placement.compose`); the one renderer
(:func:`cropaudit.imaging.composite.render_composite`) then draws it. Rows keep the
baseline's ``tuple_id`` and ``base_id`` so every probe outcome can be matched with its baseline
outcome; ``order`` and ``position`` follow what is shown (an order swap flips ``order``).
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from cropaudit.errors import InputFileError
from cropaudit.geometry.placement import compose
from cropaudit.probes.params import COMPOSITION_KINDS, ProbesParams

#: Kind and value of the unchanged composites every probe is measured against.
BASELINE_KIND = "baseline"


@dataclass(frozen=True)
class ProbeSetting:
    """One setting of one probe kind, e.g. ``padding`` 13 or ``jpeg`` 50."""

    kind: str
    value: object

    @property
    def key(self) -> str:
        """Stable name used in tables and metrics: ``padding=13``."""
        value = f"{self.value:g}" if isinstance(self.value, float) else str(self.value)
        return self.kind if self.kind == BASELINE_KIND else f"{self.kind}={value}"

    @property
    def numeric(self) -> float:
        """The setting as a number for dose–response axes (NaN when it has none)."""
        return float(self.value) if isinstance(self.value, int | float) else float("nan")


BASELINE = ProbeSetting(BASELINE_KIND, "")


def settings_of(params: ProbesParams, kind: str) -> list[ProbeSetting]:
    """The settings of one probe kind as configured (``baseline``: the one baseline)."""
    if kind == BASELINE_KIND:
        return [BASELINE]
    if kind not in COMPOSITION_KINDS:
        raise ValueError(f"unknown probe kind {kind!r} (known: {', '.join(COMPOSITION_KINDS)})")
    return [ProbeSetting(kind, v) for v in getattr(params, kind)]


def subsample(pairs: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Pair rows of ``n`` base tuples per comparison (both orders of each), seeded.

    Each comparison draws from its own stream (the seed and its name), so a change of one
    comparison leaves the others' draws alone. k-way "together" tuples are not probed.
    """
    rows = pairs[pairs["kind"] == "pair"]
    keep = []
    for comparison, g in rows.groupby("comparison", sort=True):
        rng = np.random.default_rng([seed, zlib.crc32(f"probes:{comparison}".encode())])
        bases = np.unique(g["base_id"].to_numpy())
        keep.append(np.sort(rng.choice(bases, size=min(n, len(bases)), replace=False)))
    if not keep:
        raise InputFileError("pairs table: no pair tuples to probe (sampling.pairs is 'none')")
    chosen = np.concatenate(keep)
    out = rows[rows["base_id"].isin(chosen)]
    return out.sort_values(["tuple_id", "position"]).reset_index(drop=True)


def _recompose(rows: pd.DataFrame, sizes: Mapping[str, tuple[int, int]], *, layout: str,
               scaling: str, scaling_size: int, padding: int) -> pd.DataFrame:
    """The tuple's rows (in the order given) placed by :func:`compose` with these settings."""
    geometry = compose([sizes[str(i)] for i in rows["image_id"]], layout=layout,  # type: ignore[arg-type]
                       scaling=scaling, scaling_size=scaling_size, padding=padding)  # type: ignore[arg-type]
    out = rows.copy()
    out["position"] = np.arange(len(out))
    out["layout"] = layout
    out["scaling"] = scaling
    out["scaling_size"] = scaling_size
    out["padding"] = padding
    out["composite_width"] = geometry.width
    out["composite_height"] = geometry.height
    for col in ("x", "y", "width", "height", "scale"):
        out[col] = [getattr(p, col) for p in geometry.placements]
    return out


def tuple_rows(rows: pd.DataFrame, setting: ProbeSetting,
               sizes: Mapping[str, tuple[int, int]], params: ProbesParams) -> pd.DataFrame:
    """Rows of one baseline tuple (sorted by position) as shown under ``setting``."""
    first = rows.iloc[0]
    design: dict[str, Any] = {
        "layout": str(first["layout"]), "scaling": str(first["scaling"]),
        "scaling_size": int(first["scaling_size"]), "padding": int(first["padding"])}
    kind, value = setting.kind, setting.value
    if kind in (BASELINE_KIND, "jpeg"):
        return rows.copy()
    if kind == "padding":
        out = rows.copy()
        axis, extent = ("x", "composite_width") if params.padding_side == "left" else \
            ("y", "composite_height")
        out[axis] = out[axis] + int(value)  # type: ignore[call-overload]
        out[extent] = out[extent] + int(value)  # type: ignore[call-overload]
        return out
    if kind == "gap":
        return _recompose(rows, sizes, **{**design, "padding": int(value)})  # type: ignore[call-overload]
    if kind == "order":
        out = _recompose(rows.iloc[::-1], sizes, **design)
        out["order"] = 1 - out["order"]
        return out
    if kind == "layout":
        return _recompose(rows, sizes, **{**design, "layout": str(value)})
    if kind == "scaling":
        size = 0 if value == "none" else params.scaling_size
        return _recompose(rows, sizes, **{**design, "scaling": str(value), "scaling_size": size})
    if kind == "grid":
        return grid_rows(rows, sizes, float(value), design)  # type: ignore[arg-type]
    raise ValueError(f"unknown probe kind {kind!r}")


def grid_rows(rows: pd.DataFrame, sizes: Mapping[str, tuple[int, int]], blank: float,
              design: Mapping[str, object]) -> pd.DataFrame:
    """A WACV-style 3×1 grid: first member on top, a blank band, second member below.

    The blank band is ``blank`` times the taller (scaled) member's height, so with 1.0 the
    grid is three equal rows for members of equal size.
    """
    top = _recompose(rows, sizes, **{**design, "layout": "vertical"})  # type: ignore[arg-type]
    band = round(blank * int(top["height"].max()))
    return _recompose(rows, sizes, **{**design, "layout": "vertical", "padding": band})  # type: ignore[arg-type]


def probe_pairs(sub: pd.DataFrame, setting: ProbeSetting, sizes: Mapping[str, tuple[int, int]],
                params: ProbesParams) -> pd.DataFrame:
    """Every subsampled tuple's rows under ``setting``, with ``probe`` and ``setting`` columns."""
    parts = [tuple_rows(t, setting, sizes, params)
             for _, t in sub.groupby("tuple_id", sort=True)]
    out = pd.concat(parts, ignore_index=True) if parts else sub.iloc[:0].copy()
    out.insert(0, "probe", setting.kind)
    out.insert(1, "setting", setting.key)
    return out


def reencode(canvas: np.ndarray, setting: ProbeSetting) -> np.ndarray:
    """The composite as the model sees it: JPEG settings re-encode it in memory."""
    if setting.kind != "jpeg":
        return canvas
    buffer = io.BytesIO()
    Image.fromarray(canvas).save(buffer, format="JPEG", quality=int(setting.value))  # type: ignore[call-overload]
    buffer.seek(0)
    with Image.open(buffer) as img:
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def dataset_sizes(table: pd.DataFrame) -> dict[str, tuple[int, int]]:
    """image_id -> (width, height) of the upright source image (the dataset table)."""
    return {str(r.image_id): (int(r.width), int(r.height))
            for r in table[["image_id", "width", "height"]].itertuples(index=False)}
