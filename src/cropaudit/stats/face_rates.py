"""Face outcomes of crops as rates per group and per attribute value, with their differences.

The crops tables say, per composite member or image and aspect ratio, whether the salient
point fell on the face and whether the crop kept all of it. This module turns them into one
long table of yes/no *observations* and from it two tidy tables (fairlearn's "by group"
shape): rates per value, and differences between values.

* ``source``: ``single`` (each dataset image shown alone), ``pair`` or ``together``
  (members of composites; one observation per member and composite).
* ``measure``: ``face_detected`` (single only: did the detector find a face? a check of the
  detector itself, whose misses differ between groups at our peril), ``salient_in_face``
  (the salient point lies in the face box; images/members with a face), ``face_kept`` (the
  crop at ``aspect_ratio`` keeps the whole face box; images/members with a face).
* ``level``: ``group`` or a group attribute (``gender``, ``race``, ...); ``value``: the
  group label or attribute value.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cropaudit.contracts import COMPARISON_SEP, metric_key
from cropaudit.stats.params import Correction
from cropaudit.stats.rates import pairwise_differences, rates_by

RATE_KEYS = ("source", "measure", "aspect_ratio", "level", "value")


def observations(*, crops: pd.DataFrame | None, image_crops: pd.DataFrame | None,
                 faces: pd.DataFrame | None, attributes: pd.DataFrame | None = None
                 ) -> pd.DataFrame:
    """The long table: ``source, measure, aspect_ratio, image_id, group, outcome`` (+ the
    attribute columns of ``attributes``, a frame indexed by image_id)."""
    parts: list[pd.DataFrame] = []
    if faces is not None:
        per_image = faces.drop_duplicates("image_id")
        parts.append(pd.DataFrame({
            "source": "single", "measure": "face_detected", "aspect_ratio": np.nan,
            "image_id": per_image["image_id"].astype(str), "group": per_image["group"],
            "outcome": (per_image["n_faces"] > 0).astype("boolean"),
        }))
    if image_crops is not None and "salient_in_face" in image_crops.columns:
        parts += _crop_observations(image_crops.assign(source="single"))
    if crops is not None and "salient_in_face" in crops.columns:
        parts += _crop_observations(crops.assign(source=crops["kind"].astype(str)))
    columns = ["source", "measure", "aspect_ratio", "image_id", "group", "outcome"]
    if not parts:
        return pd.DataFrame(columns=columns)
    obs = pd.concat(parts, ignore_index=True)[columns]
    obs["outcome"] = obs["outcome"].astype("boolean")
    if attributes is not None:
        obs = obs.join(attributes, on="image_id")
    return obs


def _crop_observations(table: pd.DataFrame) -> list[pd.DataFrame]:
    """salient_in_face once per member (or image), face_kept once per aspect ratio."""
    member = ["tuple_id", "position"] if "tuple_id" in table.columns else ["image_id"]
    once = table.drop_duplicates(member)
    salient = pd.DataFrame({
        "source": once["source"], "measure": "salient_in_face", "aspect_ratio": np.nan,
        "image_id": once["image_id"].astype(str), "group": once["group"],
        "outcome": once["salient_in_face"],
    })
    kept = pd.DataFrame({
        "source": table["source"], "measure": "face_kept",
        "aspect_ratio": table["aspect_ratio"].astype(float),
        "image_id": table["image_id"].astype(str), "group": table["group"],
        "outcome": table["face_kept"],
    })
    return [salient, kept]


def rate_tables(obs: pd.DataFrame, levels: Sequence[str], *, alpha: float = 0.05,
                interval: str = "wilson", correction: Correction = "holm"
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rates, comparisons) for every level present in the observations."""
    frames = []
    for level in levels:
        if level not in obs.columns:
            continue
        part = obs.assign(level=level, value=obs[level].astype(str))
        frames.append(rates_by(part, RATE_KEYS, alpha=alpha, method=interval))
    if not frames:
        empty = rates_by(obs.assign(level="", value=""), RATE_KEYS)
        return empty, pairwise_differences(empty, RATE_KEYS[:-1], "value")
    rates = pd.concat(frames, ignore_index=True)
    comparisons = pairwise_differences(
        rates, RATE_KEYS[:-1], "value", family=["source", "measure"], alpha=alpha,
        correction=correction,
    )
    return rates, comparisons


def face_statistics(*, params: Any, crops: pd.DataFrame | None,
                    image_crops: pd.DataFrame | None, faces: pd.DataFrame,
                    table: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(face_rates, face_comparisons, metrics) of a run, at levels ``group`` and every group
    attribute of ``dataset.groups.attributes`` the dataset table has."""
    from cropaudit.faces.detect import summary

    attributes = [a for a in params.dataset.groups.attributes if a in table.columns]
    attrs = table.set_index(table["image_id"].astype(str))[attributes]
    obs = observations(crops=crops, image_crops=image_crops, faces=faces, attributes=attrs)
    rates, comparisons = rate_tables(
        obs, ["group", *attributes], alpha=params.stats.alpha, interval=params.stats.interval,
        correction=params.stats.correction,
    )
    return rates, comparisons, metrics(rates, comparisons, summary(faces))


def measure_key(measure: str, aspect_ratio: float) -> str:
    """``face_kept_ar0.56`` for ratio-specific measures, else the measure's name."""
    if aspect_ratio is None or (isinstance(aspect_ratio, float) and math.isnan(aspect_ratio)):
        return measure
    return f"{measure}_ar{aspect_ratio:g}"


def metrics(rates: pd.DataFrame, comparisons: pd.DataFrame,
            faces_summary: dict[str, Any] | None = None) -> dict[str, Any]:
    """Nested dict for metrics.json: ``face_rates.<source>.<measure>.<level>.<value>`` and
    ``face_tests.<source>.<measure>.<level>.<a>-vs-<b>.{diff, diff_low, diff_high,
    p_value_adjusted}``, plus ``faces`` (detection counts)."""
    out: dict[str, Any] = {}
    if faces_summary is not None:
        out["faces"] = faces_summary
    tree: dict[str, Any] = {}
    for r in rates.itertuples(index=False):
        node = tree.setdefault(r.source, {}).setdefault(measure_key(r.measure, r.aspect_ratio),
                                                        {})
        node.setdefault(r.level, {})[metric_key(str(r.value))] = float(r.rate)
    out["face_rates"] = tree
    tests: dict[str, Any] = {}
    for c in comparisons.itertuples(index=False):
        node = tests.setdefault(c.source, {}).setdefault(measure_key(c.measure, c.aspect_ratio),
                                                         {})
        node.setdefault(c.level, {})[metric_key(f"{c.value_a}{COMPARISON_SEP}{c.value_b}")] = {
            "diff": float(c.diff), "diff_low": float(c.diff_low),
            "diff_high": float(c.diff_high), "p_value_adjusted": float(c.p_value_adjusted),
        }
    out["face_tests"] = tests
    return out


def _interval_text(rate: float, low: float, high: float) -> str:
    return f"{rate:.3f} [{low:.3f}, {high:.3f}]"


def wide_rates(rates: pd.DataFrame, source: str) -> pd.DataFrame:
    """One row per level value, one column per measure: ``rate [low, high] (n)`` text, for
    reading in the report."""
    part = rates[rates["source"] == source]
    if part.empty:
        return pd.DataFrame()
    part = part.assign(
        column=[measure_key(m, a) for m, a in zip(part["measure"], part["aspect_ratio"],
                                                  strict=True)],
        text=[f"{_interval_text(r, lo, hi)} (n={n})" for r, lo, hi, n in
              zip(part["rate"], part["ci_low"], part["ci_high"], part["n"], strict=True)],
    )
    wide = part.pivot(index=["level", "value"], columns="column", values="text")
    wide = wide[list(dict.fromkeys(part["column"]))]
    wide.columns.name = None
    return wide.reset_index()


def notable_differences(comparisons: pd.DataFrame) -> pd.DataFrame:
    """Differences between attribute values (not single groups), most significant first."""
    c = comparisons[comparisons["level"] != "group"]
    if c.empty:
        return pd.DataFrame()
    return pd.DataFrame({
        "source": c["source"] if "source" in c.columns else "",
        "measure": [measure_key(m, a) for m, a in zip(c["measure"], c["aspect_ratio"],
                                                      strict=True)],
        "level": c["level"], "a": c["value_a"], "b": c["value_b"],
        "rate_a": c["rate_a"], "rate_b": c["rate_b"],
        "difference a − b [95 %]": [_interval_text(d, lo, hi) for d, lo, hi in
                                    zip(c["diff"], c["diff_low"], c["diff_high"], strict=True)],
        "p_adjusted": c["p_value_adjusted"], "significant": c["significant"],
    }).sort_values("p_adjusted", kind="stable")
