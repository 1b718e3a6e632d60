"""What the report shows, derived from the stages' tables: the stages write it, the report
only renders it.

Each function takes the tables as a reader of the stage's CSVs sees them (the report used to
derive these itself, from the same files), so moving the derivation into the stages changes
no number and no cell of the report.
"""

from __future__ import annotations

import pandas as pd

from cropaudit.stats.face_rates import notable_differences, wide_rates

#: Sources of face rates, in the order the report shows them.
FACE_SOURCES = ("single", "pair", "together")


def retention_summary(crops: pd.DataFrame) -> pd.DataFrame:
    """Mean retention and share of members cropped out entirely, per group and aspect ratio."""
    import numpy as np

    g = crops.groupby(["kind", "group", "aspect_ratio"], sort=True)["retention"]
    out = pd.DataFrame({
        "members": g.size(),
        "mean_retention": g.mean(),
        "cropped_out": g.apply(lambda s: float((s == 0).mean())),
    })
    if "face_retention" in crops.columns:
        faces = crops.groupby(["kind", "group", "aspect_ratio"], sort=True)["face_retention"]
        out["members_with_face"] = faces.count()
        out["mean_face_retention"] = faces.mean()
        out["face_cropped_out"] = faces.apply(
            lambda s: float((s.dropna() == 0).mean()) if s.notna().any() else np.nan)
    return out.reset_index()


def face_rate_tables(rates: pd.DataFrame, disparities: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per source present, one row per level value and one column per face measure.

    With the clustered disparity table the rates carry its intervals; without it, the naive
    ones, and no difference is claimed: the naive two-proportion tests are never the fallback
    (45 % false positives on composites with reused images).
    """
    clustered = len(disparities) > 0
    shown, low, high = ((disparities, "ci_low", "ci_high") if clustered else
                        (rates, "naive_low", "naive_high"))
    return {source: wide_rates(shown, source, low, high)
            for source in FACE_SOURCES if (shown["source"] == source).any()}


def gaze_tables(rates: pd.DataFrame, comparisons: pd.DataFrame, level: int
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The gaze stage's label rates (wide, one column per measure) and the differences between
    attribute values, most significant first, labelled with the interval ``level`` (%)."""
    wide = wide_rates(rates.assign(source="gaze"), "gaze") if len(rates) else pd.DataFrame()
    notable = (notable_differences(comparisons.assign(source="gaze"), level)
               if len(comparisons) else pd.DataFrame())
    return wide, notable
