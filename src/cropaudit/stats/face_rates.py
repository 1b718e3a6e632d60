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

The rates' Wilson intervals and the pairwise two-proportion tests (``face_tests``) treat rows
as independent: right for single images, too narrow for composite members, which repeat
images across tuples and share a salient point within one. The disparity table
(``face_disparities``, :mod:`cropaudit.stats.disparity`) clusters over images and composites
and is the one to quote. Together composites are shown in every arrangement of
``sampling.together_orders`` (cyclic by default), so each group sits at each position equally
often and a position preference cannot masquerade as a group difference in these rates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cropaudit.stats.disparity import disparity_metrics, disparity_table, metric_tree, wide_text
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
            "image_id": per_image["image_id"].astype(str),
            "tuple": "i" + per_image["image_id"].astype(str), "position": np.nan,
            "group": per_image["group"],
            "outcome": (per_image["n_faces"] > 0).astype("boolean"),
        }))
    if image_crops is not None and "salient_in_face" in image_crops.columns:
        parts += _crop_observations(image_crops.assign(source="single"))
    if crops is not None and "salient_in_face" in crops.columns:
        parts += _crop_observations(crops.assign(source=crops["kind"].astype(str)))
    columns = ["source", "measure", "aspect_ratio", "image_id", "tuple", "position", "group",
               "outcome"]
    if not parts:
        return pd.DataFrame(columns=columns)
    obs = pd.concat(parts, ignore_index=True)[columns]
    obs["outcome"] = obs["outcome"].astype("boolean")
    if attributes is not None:
        obs = obs.join(attributes, on="image_id")
    return obs


def _tuple_label(table: pd.DataFrame) -> pd.Series:
    """Cluster label of the composite a member belongs to (the image itself when single):
    members of one composite share its salient point, so their outcomes are correlated."""
    if "tuple_id" in table.columns:
        return "t" + table["tuple_id"].astype(str)
    return "i" + table["image_id"].astype(str)


def _position(table: pd.DataFrame) -> pd.Series:
    """Member's position in its composite (NaN for single images)."""
    if "position" in table.columns and "tuple_id" in table.columns:
        return table["position"].astype(float)
    return pd.Series(np.nan, index=table.index)


def _crop_observations(table: pd.DataFrame) -> list[pd.DataFrame]:
    """salient_in_face once per member (or image), face_kept once per aspect ratio."""
    member = ["tuple_id", "position"] if "tuple_id" in table.columns else ["image_id"]
    once = table.drop_duplicates(member)
    salient = pd.DataFrame({
        "source": once["source"], "measure": "salient_in_face", "aspect_ratio": np.nan,
        "image_id": once["image_id"].astype(str), "tuple": _tuple_label(once),
        "position": _position(once), "group": once["group"],
        "outcome": once["salient_in_face"],
    })
    kept = pd.DataFrame({
        "source": table["source"], "measure": "face_kept",
        "aspect_ratio": table["aspect_ratio"].astype(float),
        "image_id": table["image_id"].astype(str), "tuple": _tuple_label(table),
        "position": _position(table), "group": table["group"], "outcome": table["face_kept"],
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


MEASURE_WORDS = {
    "face_detected": "the detector finds a face in {v} images",
    "salient_in_face": "the salient point lies on the face for {v} images",
    "face_kept": "the crop keeps the whole face of {v} images",
}
DISPARITY_SLICES = ["source", "measure", "aspect_ratio", "level"]


def face_disparities(obs: pd.DataFrame, levels: Sequence[str], *, alpha: float = 0.05,
                     interval: str = "wilson", min_n: int = 30,
                     references: dict[str, str] | None = None) -> pd.DataFrame:
    """The disparity table of every face measure (clustered over images and composites)."""
    frames = [obs.assign(level=lv, value=obs[lv].astype(str)) for lv in levels
              if lv in obs.columns]
    if not frames:
        return pd.DataFrame()
    long = pd.concat(frames, ignore_index=True)
    parts = []
    for measure, part in long.groupby("measure", sort=False):
        words = MEASURE_WORDS.get(str(measure), "the outcome holds for {v}")
        parts.append(disparity_table(
            part, DISPARITY_SLICES, references=references, clusters=("image_id", "tuple"),
            alpha=alpha, method=interval, min_n=min_n,
            describe=lambda v, w=words: w.format(v=v)))
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


POSITION_ADJUSTED_COLUMNS = ["source", "measure", "aspect_ratio", "level", "value",
                             "reference", "coef", "se", "low", "high", "p_value",
                             "joint_p_value", "clusters", "observations"]


def position_adjusted_tests(obs: pd.DataFrame, levels: Sequence[str], *, alpha: float = 0.05,
                            references: dict[str, str] | None = None) -> pd.DataFrame:
    """Group differences of composite members' face outcomes *with position in the model*.

    The salient point's position preference decides which member it lands on, so a member's
    face outcome depends on where it sits. Per composite source, measure, aspect ratio and
    level: logit P(outcome) = position terms + value terms (reference value 0), clustered over
    images and composites (:func:`cropaudit.stats.clustered.robust_glm_terms`); ``coef`` is a
    value's log-odds against the reference at equal positions, ``joint_p_value`` the F-test
    that all values are equal. Slices whose outcome is constant or separated are skipped.
    """
    from cropaudit.stats.clustered import robust_glm_terms, wald_test

    rows = []
    composite = obs[obs["position"].notna() & obs["outcome"].notna()]
    for level in levels:
        if level not in composite.columns:
            continue
        part = composite.assign(level=level, value=composite[level].astype(str))
        for key, d in part.groupby(["source", "measure", "aspect_ratio", "level"],
                                   dropna=False, sort=True):
            values = sorted(d["value"].unique())
            y = d["outcome"].astype(float).to_numpy()
            if len(values) < 2 or y.min() == y.max():
                continue
            ref = (references or {}).get(level)
            ref = ref if ref in values else values[0]
            others = [v for v in values if v != ref]
            x = pd.DataFrame({"const": 1.0}, index=d.index)
            for v in others:
                x[f"value[{v}]"] = (d["value"] == v).astype(float)
            for pos in sorted(d["position"].unique())[1:]:
                x[f"position[{int(pos)}]"] = (d["position"] == pos).astype(float)
            labels = np.column_stack([pd.factorize(d["image_id"])[0],
                                      pd.factorize(d["tuple"])[0]])
            labels[:, 1] += labels[:, 0].max() + 1
            clusters = int(d.groupby("value")["image_id"].nunique().min())
            try:
                terms, cov, g = robust_glm_terms(y, x, labels, alpha, clusters)
            except (ValueError, np.linalg.LinAlgError, RuntimeError):
                continue
            idx = [list(x.columns).index(f"value[{v}]") for v in others]
            _, _, joint = wald_test(terms["coef"].to_numpy()[idx], cov[np.ix_(idx, idx)], g)
            for v, i in zip(others, idx, strict=True):
                t = terms.iloc[i]
                rows.append({**dict(zip(["source", "measure", "aspect_ratio", "level"], key,
                                        strict=True)),
                             "value": v, "reference": ref, "coef": t["coef"], "se": t["se"],
                             "low": t["low"], "high": t["high"], "p_value": t["p_value"],
                             "joint_p_value": joint, "clusters": g, "observations": len(d)})
    return pd.DataFrame(rows, columns=POSITION_ADJUSTED_COLUMNS)


def face_statistics_tables(*, params: Any, crops: pd.DataFrame | None,
                           image_crops: pd.DataFrame | None, faces: pd.DataFrame,
                           table: pd.DataFrame
                           ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame,
                                      dict[str, Any]]:
    """(face_rates, face_comparisons, face_disparities, face_position_adjusted, metrics) of a
    run, at levels
    ``group`` and every group attribute of ``dataset.groups.attributes`` the dataset table
    has; metrics hold ``faces``, ``face_rates``, ``face_tests``, ``face_disparities`` and
    ``face_tests_position_adjusted``."""
    from cropaudit.faces.table import summary

    attributes = [a for a in params.dataset.groups.attributes if a in table.columns]
    attrs = table.set_index(table["image_id"].astype(str))[attributes]
    obs = observations(crops=crops, image_crops=image_crops, faces=faces, attributes=attrs)
    rates, comparisons = rate_tables(
        obs, ["group", *attributes], alpha=params.stats.alpha, interval=params.stats.interval,
        correction=params.stats.correction,
    )
    disparities = face_disparities(
        obs, ["group", *attributes], alpha=params.stats.alpha, interval=params.stats.interval,
        min_n=params.stats.disparity_min_n,
        references={a.attribute: a.second for a in params.stats.aggregates})
    adjusted = position_adjusted_tests(
        obs, ["group", *attributes], alpha=params.stats.alpha,
        references={a.attribute: a.second for a in params.stats.aggregates})
    out = metrics(rates, comparisons, summary(faces))
    if len(adjusted):
        out["face_tests_position_adjusted"] = metric_tree(
            adjusted.drop_duplicates(["source", "measure", "aspect_ratio", "level"])
            .itertuples(index=False),
            lambda r: [r.source, measure_key(r.measure, r.aspect_ratio), r.level,
                       "joint_p_value"],
            lambda r: float(r.joint_p_value))
    if len(disparities):
        keyed = disparities.assign(measure=[measure_key(m, a) for m, a in zip(
            disparities["measure"], disparities["aspect_ratio"], strict=True)])
        out["face_disparities"] = disparity_metrics(keyed, ["source", "measure", "level"])
    return rates, comparisons, disparities, adjusted, out


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
    out["face_rates"] = rate_tree(rates, ["source"])
    out["face_tests"] = test_tree(comparisons, ["source"])
    return out


def rate_tree(rates: pd.DataFrame, head: Sequence[str]) -> dict[str, Any]:
    """``<head...>.<measure>.<level>.<value>`` = rate (face rates, gaze rates)."""
    return metric_tree(
        rates.itertuples(index=False),
        lambda r: [*(getattr(r, h) for h in head), measure_key(r.measure, r.aspect_ratio),
                   r.level, r.value],
        lambda r: float(r.rate),
    )


def test_tree(comparisons: pd.DataFrame, head: Sequence[str]) -> dict[str, Any]:
    """``<head...>.<measure>.<level>.<a>~<b>`` = {diff, diff_low, diff_high,
    p_value_adjusted} (naive two-proportion tests; the clustered ones are the disparities)."""
    return metric_tree(
        comparisons.itertuples(index=False),
        lambda r: [*(getattr(r, h) for h in head), measure_key(r.measure, r.aspect_ratio),
                   r.level, f"{r.value_a}~{r.value_b}"],
        lambda r: {"diff": float(r.diff), "diff_low": float(r.diff_low),
                   "diff_high": float(r.diff_high),
                   "p_value_adjusted": float(r.p_value_adjusted)},
    )


def _interval_text(rate: float, low: float, high: float) -> str:
    return f"{rate:.3f} [{low:.3f}, {high:.3f}]"


def wide_rates(rates: pd.DataFrame, source: str) -> pd.DataFrame:
    """One row per level value, one column per measure: ``rate [low, high] (n)`` text, for
    reading in the report (clustered intervals when the table has them)."""
    part = rates[rates["source"] == source]
    if part.empty:
        return pd.DataFrame()
    column = pd.Series([measure_key(m, a) for m, a in zip(part["measure"], part["aspect_ratio"],
                                                          strict=True)], index=part.index)
    return wide_text(part, ["level", "value"], column)


def notable_differences(comparisons: pd.DataFrame, level: int = 95) -> pd.DataFrame:
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
        f"difference a − b [{level} %]": [_interval_text(d, lo, hi) for d, lo, hi in
                                    zip(c["diff"], c["diff_low"], c["diff_high"], strict=True)],
        "p_adjusted": c["p_value_adjusted"], "significant": c["significant"],
    }).sort_values("p_adjusted", kind="stable")
