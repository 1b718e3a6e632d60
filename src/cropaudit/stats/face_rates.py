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

The rates' Wilson intervals and the pairwise two-proportion tests treat rows as
independent: right for single images, too narrow for composite members, which repeat images
across tuples and share a salient point within one (45 % false positives on composites with
reused images, against 5 % for the clustered table). They are therefore named ``naive_*``
in face_rates.csv, face_comparisons.csv and metrics.json (``naive_face_tests``), and Holm
runs across the whole table. The disparity table (``face_disparities``,
:mod:`cropaudit.stats.disparity`) clusters every observation on every image of its composite
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
        ids = per_image["image_id"].astype(str)
        parts.append(pd.DataFrame({
            "source": "single", "measure": "face_detected", "aspect_ratio": np.nan,
            "image_id": ids, "images": [(i,) for i in ids], "position": np.nan,
            "group": per_image["group"],
            "outcome": (per_image["n_faces"] > 0).astype("boolean"),
        }))
    if image_crops is not None and "salient_in_face" in image_crops.columns:
        parts += _crop_observations(image_crops.assign(source="single"))
    if crops is not None and "salient_in_face" in crops.columns:
        parts += _crop_observations(crops.assign(source=crops["kind"].astype(str)))
    columns = ["source", "measure", "aspect_ratio", "image_id", "images", "position", "group",
               "outcome"]
    if not parts:
        return pd.DataFrame(columns=columns)
    obs = pd.concat(parts, ignore_index=True)[columns]
    obs["outcome"] = obs["outcome"].astype("boolean")
    if attributes is not None:
        obs = obs.join(attributes, on="image_id")
    return obs


def _tuple_images(table: pd.DataFrame) -> pd.Series:
    """Every image of the composite each row's member belongs to (its own image alone when
    single): a member's face outcome depends on where the shared salient point lands, so on
    every image of its composite (the cluster labels, :func:`cluster_labels`)."""
    ids = table["image_id"].astype(str)
    if "tuple_id" not in table.columns:
        return pd.Series([(i,) for i in ids], index=table.index, dtype=object)
    per_tuple = ids.groupby(table["tuple_id"]).agg(lambda v: tuple(dict.fromkeys(v)))
    return table["tuple_id"].map(per_tuple)


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
        "image_id": once["image_id"].astype(str), "images": _tuple_images(once),
        "position": _position(once), "group": once["group"],
        "outcome": once["salient_in_face"],
    })
    kept = pd.DataFrame({
        "source": table["source"], "measure": "face_kept",
        "aspect_ratio": table["aspect_ratio"].astype(float),
        "image_id": table["image_id"].astype(str), "images": _tuple_images(table),
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
        return _naive(empty, NAIVE_RATE_COLUMNS), _naive(
            pairwise_differences(empty, RATE_KEYS[:-1], "value"), NAIVE_TEST_COLUMNS)
    rates = pd.concat(frames, ignore_index=True)
    comparisons = pairwise_differences(  # one family: the whole table
        rates, RATE_KEYS[:-1], "value", alpha=alpha, correction=correction,
    )
    return _naive(rates, NAIVE_RATE_COLUMNS), _naive(comparisons, NAIVE_TEST_COLUMNS)


#: columns of the face rate and test tables that treat rows as independent, and their names
NAIVE_RATE_COLUMNS = {"ci_method": "naive_method", "ci_low": "naive_low",
                      "ci_high": "naive_high"}
NAIVE_TEST_COLUMNS = {c: f"naive_{c}" for c in (
    "diff_low", "diff_high", "method", "statistic", "p_value", "correction",
    "p_value_adjusted", "significant")}


def _naive(table: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    return table.rename(columns=names)


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
            part, DISPARITY_SLICES, references=references, images="images",
            alpha=alpha, method=interval, min_n=min_n,
            describe=lambda v, w=words: w.format(v=v)))
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


POSITION_ADJUSTED_COLUMNS = ["source", "measure", "aspect_ratio", "level", "value",
                             "reference", "coef", "se", "low", "high", "p_value",
                             "joint_p_value", "joint_df", "clusters", "observations",
                             "not_estimable"]


def position_adjusted_tests(obs: pd.DataFrame, levels: Sequence[str], *, alpha: float = 0.05,
                            references: dict[str, str] | None = None) -> pd.DataFrame:
    """Group differences of composite members' face outcomes *with position in the model*.

    The salient point's position preference decides which member it lands on, so a member's
    face outcome depends on where it sits. Per composite source, measure, aspect ratio and
    level: logit P(outcome) = position terms + value terms (reference value 0), clustered on
    every image of each member's composite (:func:`cropaudit.stats.clustered.cluster_labels`,
    :func:`~cropaudit.stats.clustered.robust_glm_terms`); ``coef`` is a value's log-odds
    against the reference at equal positions, ``joint_p_value`` the Wald test that all values
    are equal, Hotelling-corrected with ``joint_df`` degrees of freedom (the clustered
    variance's own, at most G − 1; read it before the per-value ``p_value``). A slice whose
    outcome never varies, is separated or has no clustered variance gets its rows with
    ``not_estimable`` saying why.
    """
    from cropaudit.stats.clustered import cluster_labels, fewest_images, robust_glm_terms

    rows = []
    composite = obs[obs["position"].notna() & obs["outcome"].notna()]
    slice_keys = ["source", "measure", "aspect_ratio", "level"]
    for level in levels:
        if level not in composite.columns:
            continue
        part = composite.assign(level=level, value=composite[level].astype(str))
        for key, d in part.groupby(slice_keys, dropna=False, sort=True):
            values = sorted(d["value"].unique())
            if len(values) < 2:
                continue
            y = d["outcome"].astype(float).to_numpy()
            ref = (references or {}).get(level)
            ref = ref if ref in values else values[0]
            others = [v for v in values if v != ref]
            x = pd.DataFrame({"const": 1.0}, index=d.index)
            for v in others:
                x[f"value[{v}]"] = (d["value"] == v).astype(float)
            for pos in sorted(d["position"].unique())[1:]:
                x[f"position[{int(pos)}]"] = (d["position"] == pos).astype(float)
            clusters = fewest_images(d["image_id"].to_numpy(), d["value"].to_numpy())
            fit = robust_glm_terms(y, x, cluster_labels(d["images"]), alpha, clusters)
            idx = [list(x.columns).index(f"value[{v}]") for v in others]
            _, _, joint, nu = fit.joint_test(idx)
            problem = fit.problem or ("" if np.isfinite(joint) else
                                      "the joint test's covariance is singular")
            for v, i in zip(others, idx, strict=True):
                t = fit.terms.iloc[i]
                rows.append({**dict(zip(slice_keys, key, strict=True)),
                             "value": v, "reference": ref, "coef": t["coef"], "se": t["se"],
                             "low": t["low"], "high": t["high"], "p_value": t["p_value"],
                             "joint_p_value": joint, "joint_df": nu,
                             "clusters": fit.clusters,
                             "observations": len(d), "not_estimable": problem})
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
            lambda r: float(r.joint_p_value) if np.isfinite(r.joint_p_value) else None)
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
    ``naive_face_tests.<source>.<measure>.<level>.<a>-vs-<b>.{diff, naive_diff_low,
    naive_diff_high, naive_p_value_adjusted}`` (rows treated as independent), plus ``faces``
    (detection counts)."""
    out: dict[str, Any] = {}
    if faces_summary is not None:
        out["faces"] = faces_summary
    out["face_rates"] = rate_tree(rates, ["source"])
    out["naive_face_tests"] = test_tree(comparisons, ["source"], prefix="naive_")
    return out


def rate_tree(rates: pd.DataFrame, head: Sequence[str]) -> dict[str, Any]:
    """``<head...>.<measure>.<level>.<value>`` = rate (face rates, gaze rates)."""
    return metric_tree(
        rates.itertuples(index=False),
        lambda r: [*(getattr(r, h) for h in head), measure_key(r.measure, r.aspect_ratio),
                   r.level, r.value],
        lambda r: float(r.rate),
    )


def test_tree(comparisons: pd.DataFrame, head: Sequence[str], prefix: str = ""  # noqa: PT028
              ) -> dict[str, Any]:
    """``<head...>.<measure>.<level>.<a>~<b>`` = {diff, <prefix>diff_low, <prefix>diff_high,
    <prefix>p_value_adjusted} (two-proportion tests; ``prefix`` is the table's column prefix,
    ``naive_`` for the face tests, whose composite rows are not independent)."""
    keys = [f"{prefix}{k}" for k in ("diff_low", "diff_high", "p_value_adjusted")]
    return metric_tree(
        comparisons.itertuples(index=False),
        lambda r: [*(getattr(r, h) for h in head), measure_key(r.measure, r.aspect_ratio),
                   r.level, f"{r.value_a}~{r.value_b}"],
        lambda r: {"diff": float(r.diff), **{k: float(getattr(r, k)) for k in keys}},
    )


def _interval_text(rate: float, low: float, high: float) -> str:
    return f"{rate:.3f} [{low:.3f}, {high:.3f}]"


def wide_rates(rates: pd.DataFrame, source: str, low: str = "ci_low", high: str = "ci_high"
               ) -> pd.DataFrame:
    """One row per level value, one column per measure: ``rate [low, high] (n)`` text, for
    reading in the report (``low``/``high``: the interval columns to show)."""
    part = rates[rates["source"] == source]
    if part.empty:
        return pd.DataFrame()
    column = pd.Series([measure_key(m, a) for m, a in zip(part["measure"], part["aspect_ratio"],
                                                          strict=True)], index=part.index)
    return wide_text(part, ["level", "value"], column, low, high)


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
