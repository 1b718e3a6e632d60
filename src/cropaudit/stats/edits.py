"""Counterfactual edits: does an edit raise a member's saliency, and win it the pair? Pure.

Input: :func:`cropaudit.probes.engine.run_edits` rows (one per image, edit and order). Per
(cropper, edit setting):

* ``delta_max``: mean change of the image's max saliency score (edited − original), with a
  t interval over images (each image once: images are the independent units) and the paired
  Wilcoxon signed-rank test; NaN for croppers without a map;
* ``win_rate``: how often the edited image holds the salient point when shown beside its
  unedited self (both orders, so position cancels), with an image-clustered interval
  (:func:`cropaudit.stats.probes.clustered_rate`, both orders of an image form one cluster)
  and the exact binomial test of 0.5 on the clustered effective n.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cropaudit.stats.probes import clustered_rate
from cropaudit.stats.proportions import binomial_test


def _paired(deltas: np.ndarray, alpha: float) -> tuple[float, float, float, float]:
    """(mean, low, high, Wilcoxon p) of per-image differences (NaNs when undefined)."""
    from scipy import stats

    d = deltas[np.isfinite(deltas)]
    if len(d) == 0:
        return (float("nan"),) * 4
    mean = float(d.mean())
    if len(d) < 2 or np.all(d == d[0]):
        return mean, mean, mean, 1.0 if np.all(d == 0) else float("nan")
    half = stats.t.ppf(1 - alpha / 2, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
    p = float(stats.wilcoxon(d).pvalue) if np.any(d != 0) else 1.0
    return mean, mean - half, mean + half, p


#: Columns of :func:`edit_table`, also when no image was edited.
COLUMNS = ("cropper", "edit", "setting", "value", "n_images", "n", "delta_max",
           "delta_max_low", "delta_max_high", "delta_max_p_value", "win_rate", "win_low",
           "win_high", "interval", "win_p_value")


def edit_table(rows: pd.DataFrame, alpha: float = 0.05) -> pd.DataFrame:
    """One row per (cropper, edit, setting): Δ max saliency and win rate with tests."""
    out: list[dict[str, object]] = []
    if rows.empty:  # no image had a face, or every edit list is empty
        return pd.DataFrame(out, columns=list(COLUMNS))
    for (cropper, edit, setting), g in rows.groupby(["cropper", "edit", "setting"], sort=False):
        per_image = g.drop_duplicates("image_id")
        mean, low, high, p = _paired(per_image["delta_max"].to_numpy(dtype=float), alpha)
        y = g["edited_won"].to_numpy(dtype=float)
        ids = g["image_id"].to_numpy()
        rate, rlow, rhigh, method = clustered_rate(y, ids, ids, alpha)
        n_images = per_image.shape[0]
        out.append({"cropper": cropper, "edit": edit, "setting": setting,
                    "value": float(g["value"].iloc[0]), "n_images": n_images, "n": len(y),
                    "delta_max": mean, "delta_max_low": low, "delta_max_high": high,
                    "delta_max_p_value": p, "win_rate": rate, "win_low": rlow,
                    "win_high": rhigh, "interval": method,
                    "win_p_value": binomial_test(round(rate * n_images), n_images)})
    return pd.DataFrame(out, columns=list(COLUMNS))


def edit_lines(table: pd.DataFrame) -> list[str]:
    """Sentences for the report: the edits that move a cropper most."""
    lines = []
    for cropper, g in table.groupby("cropper", sort=False):
        best = g.loc[(g["win_rate"] - 0.5).abs().idxmax()]
        if best["win_rate"] == 0.5 and not (g["delta_max"].abs() > 0).any():
            lines.append(f"{cropper}: no edit moves it (every edited image wins exactly half "
                         "of its pairs and its max saliency does not change).")
            continue
        lines.append(f"{cropper}: the edit that moves the pair outcome most is "
                     f"`{best['setting']}` (edited image wins {100 * best['win_rate']:.0f} % "
                     f"[{100 * best['win_low']:.0f}, {100 * best['win_high']:.0f}] against "
                     "its unedited self).")
    return lines
