"""People in the loop of the gaze analysis: review sheets out, filled-in labels back in.

The paper's gaze result rests on people looking at saliency maps. cropaudit labels every
selected image automatically (:mod:`cropaudit.gaze.analysis`), and keeps the human path so that the
automatic labels can be checked: one PNG *review sheet* per sampled image (the image, the
saliency heat map with the max-saliency point and the salient regions, and the crop at every
aspect ratio), plus ``review.csv``, a template with one row per sheet and an empty column per
question. The detector's face box is *not* drawn: reviewers judge where the face is themselves.

``cropaudit gaze-import`` reads the filled template back, refuses malformed rows with one
line naming the row (as a spreadsheet numbers it: the header is row 1), and measures how well
people and the automatic labels agree: Cohen's kappa (statsmodels) and a confusion table per
question.
"""

from __future__ import annotations

import codecs
import io
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cropaudit.engine.types import SaliencyResult
from cropaudit.errors import InputFileError
from cropaudit.gaze.analysis import (
    CROP_VALUES,
    FACE_VALUES,
    MAX_ON_FACE,
    OTHER_REGION,
    REGION_VALUES,
    Region,
    crop_column,
)
from cropaudit.geometry.crops import Crop

#: Columns of the template a reviewer leaves as they are / may use freely.
ID_COLUMNS = ("image_id", "sheet")
FREE_COLUMNS = ("reviewer", "notes")
#: Pixels at most of the image drawn on a sheet (larger images are shown downscaled).
SHEET_MAX_PIXELS = 1_500_000
CROP_COLOURS = ("#1f77b4", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2")


def questions(ratios: Sequence[float]) -> dict[str, tuple[str, ...]]:
    """Question column -> allowed answers, in template order."""
    out: dict[str, tuple[str, ...]] = {MAX_ON_FACE: FACE_VALUES}
    out.update({crop_column(r): CROP_VALUES for r in ratios})
    out[OTHER_REGION] = REGION_VALUES
    return out


def sheet_name(image_id: str) -> str:
    """A file name for an image id (any character outside [A-Za-z0-9._-] becomes _)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", image_id) + ".png"


# -- sheets -------------------------------------------------------------------------------------


def draw_sheet(path: str | os.PathLike[str], rgb: np.ndarray, result: SaliencyResult,
               regions: Sequence[Region], crops: Sequence[Crop], *, min_area: int,
               title: str) -> None:
    """One review sheet (PNG): image, heat map with point and regions, every crop.

    ``rgb`` may be a downscaled copy; everything is drawn in the image's own pixel
    coordinates (``result.width`` × ``result.height``).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from cropaudit.engine.maps import normalise, upsample_scores
    from cropaudit.outputs import atomic_path

    w, h = result.width, result.height
    extent = (0, w, h, 0)
    n = max(1, len(crops))
    fig = Figure(figsize=(max(8.0, 2.2 * n), 9.0), layout="constrained")
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2, n, height_ratios=[2.2, 1])
    left = fig.add_subplot(grid[0, : max(1, n // 2)])
    right = fig.add_subplot(grid[0, max(1, n // 2):] if n > 1 else grid[0, 0])
    left.imshow(rgb, extent=extent)
    left.set_title("image")
    dh, dw = max(1, rgb.shape[0] // 2), max(1, rgb.shape[1] // 2)
    heat = normalise(upsample_scores(result, dw, dh))
    right.imshow(rgb, extent=extent)
    right.imshow(heat, extent=extent, cmap="jet", alpha=0.45)
    for r in regions:
        big = r.area > min_area
        right.add_patch(Rectangle((r.box.left, r.box.top), r.box.width, r.box.height,
                                  fill=False, edgecolor="red" if big else "white",
                                  linewidth=2 if big else 1, linestyle="-" if big else ":"))
    sx, sy = result.salient_point
    right.plot([sx], [sy], marker="*", markersize=18, color="yellow", markeredgecolor="black")
    right.set_title("saliency: max point (star), regions (red: large)")
    for i, c in enumerate(crops):
        colour = CROP_COLOURS[i % len(CROP_COLOURS)]
        ax = fig.add_subplot(grid[1, i])
        ax.imshow(rgb, extent=extent)
        ax.set_xlim(c.left, c.right)
        ax.set_ylim(c.bottom, c.top)
        ax.set_title(f"crop {c.aspect_ratio:g}", color=colour)
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(title)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80)


def template(sheets: pd.DataFrame, ratios: Sequence[float]) -> pd.DataFrame:
    """review.csv: ``image_id, sheet``, one empty column per question, reviewer, notes."""
    out = sheets[list(ID_COLUMNS)].copy()
    for q in questions(ratios):
        out[q] = ""
    for c in FREE_COLUMNS:
        out[c] = ""
    return out


# -- reading labels back -----------------------------------------------------------------------


def _normal(value: str) -> str:
    return re.sub(r"[\s-]+", "_", value.strip().lower())


def review_text(path: Path) -> str:
    """The text of a review file: UTF-8 (with or without BOM) or UTF-16 with a BOM, as
    spreadsheets save it. Other encodings are refused naming the row (the header is row 1)."""
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputFileError(f"{path}: not valid UTF-16 ({exc.reason})") from None
    if b"\x00" in raw[:4096]:
        raise InputFileError(f"{path}: looks like UTF-16 without a byte-order mark; save it "
                             "as CSV UTF-8")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        row = raw.count(b"\n", 0, exc.start) + 1
        raise InputFileError(
            f"{path}: row {row}: byte 0x{raw[exc.start]:02x} is not UTF-8 (saved as Latin-1 "
            "or Windows-1252?); save the file as CSV UTF-8"
        ) from None


def read_review(path: str | os.PathLike[str], labels: pd.DataFrame,
                ratios: Sequence[float]) -> pd.DataFrame:
    """Validated human labels, indexed by image_id; unanswered cells are NA.

    Rows with no answer at all are skipped (not reviewed yet). Any problem raises one
    :class:`InputFileError` line naming the first bad row (and how many more there are).
    """
    p = Path(path)
    df = _review_frame(p)
    wanted = questions(ratios)
    _check_columns(p, df, wanted)
    rows, problems = _review_rows(df, wanted, set(labels.index.astype(str)))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise InputFileError(f"{p}: {problems[0]}{more}")
    if not rows:
        raise InputFileError(f"{p}: no labels filled in yet (answer at least one question)")
    return pd.DataFrame(rows).set_index("image_id")


def _review_frame(p: Path) -> pd.DataFrame:
    """The filled-in sheet as text cells, its column names stripped of spaces."""
    if not p.is_file():
        raise InputFileError(f"{p}: no such file")
    try:
        df = pd.read_csv(io.StringIO(review_text(p)), dtype=str, keep_default_na=False,
                         skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputFileError(f"{p}: not a readable CSV file ({first})") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _check_columns(p: Path, df: pd.DataFrame, wanted: Mapping[str, Sequence[str]]) -> None:
    """Every question must be there: a renamed or deleted column would otherwise drop that
    question from the agreement without a word."""
    missing = [c for c in ("image_id", *wanted) if c not in df.columns]
    if missing:
        known = {*ID_COLUMNS, *wanted, *FREE_COLUMNS}
        unknown = [c for c in df.columns if c not in known]
        hint = f"; unknown column(s) {', '.join(unknown)}" if unknown else ""
        raise InputFileError(
            f"{p}: missing column(s) {', '.join(missing)}{hint} (fill in the review.csv that "
            "`cropaudit gaze` wrote, keeping its header)"
        )


def _review_rows(df: pd.DataFrame, wanted: Mapping[str, Sequence[str]], known: set[str]
                 ) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows with at least one answer, and every problem found, each naming its row as a
    spreadsheet shows it (the header is row 1)."""
    problems: list[str] = []
    seen: dict[str, int] = {}
    rows = []
    for i, rec in enumerate(df.to_dict("records")):
        row_no = i + 2
        answers = {q: _normal(rec.get(q, "")) for q in wanted}
        image_id = str(rec.get("image_id", "")).strip()
        if not any(answers.values()) and not image_id:
            continue  # an empty line
        if not image_id:
            problems.append(f"row {row_no}: image_id is empty")
            continue
        if image_id not in known:
            problems.append(f"row {row_no}: image_id {image_id!r} is not among the gaze "
                            "analysis' images (labels.csv)")
            continue
        if image_id in seen:
            problems.append(f"row {row_no}: image_id {image_id!r} repeats row {seen[image_id]}")
            continue
        seen[image_id] = row_no
        for q, value in answers.items():
            if value and value not in wanted[q]:
                problems.append(f"row {row_no}: {q}: {rec[q].strip()!r} is not one of "
                                f"{', '.join(wanted[q])}")
        if any(answers.values()):
            rows.append({"image_id": image_id, "row": row_no,
                         **{q: (v or pd.NA) for q, v in answers.items()}})
    return rows, problems


@dataclass(frozen=True)
class Kappa:
    """Cohen's kappa of two raters on one question, with its asymptotic 95 % interval."""

    kappa: float
    se: float
    low: float
    high: float
    observed: float
    expected: float


def cohen_kappa(table: np.ndarray) -> Kappa:
    """Kappa of a square confusion table (rows: rater 1, columns: rater 2; same categories).

    κ = (p_o − p_e) / (1 − p_e), p_o the share on the diagonal, p_e the agreement expected
    from the margins. Undefined (NaN) when p_e = 1 (both raters used one category only).
    """
    from statsmodels.stats.inter_rater import cohens_kappa

    t = np.asarray(table, dtype=float)
    n = t.sum()
    if t.ndim != 2 or t.shape[0] != t.shape[1] or n <= 0:
        raise ValueError("kappa needs a non-empty square table")
    observed = float(np.trace(t) / n)
    expected = float((t.sum(axis=1) @ t.sum(axis=0)) / n**2)
    if expected >= 1.0 - 1e-12:
        return Kappa(float("nan"), float("nan"), float("nan"), float("nan"), observed, expected)
    with warnings.catch_warnings():  # tiny tables can give a negative variance estimate (NaN)
        warnings.simplefilter("ignore", RuntimeWarning)
        res = cohens_kappa(t)
    return Kappa(float(res.kappa), float(res.std_kappa), float(res.kappa_low),
                 float(res.kappa_upp), observed, expected)


def agreement(human: pd.DataFrame, automatic: pd.DataFrame, ratios: Sequence[float]
              ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(one row per question: n, agreement, kappa; tidy confusion counts human × automatic)."""
    rows, cells = [], []
    for q, values in questions(ratios).items():
        if q not in human.columns or q not in automatic.columns:
            continue
        answered = human[q].dropna()
        auto = automatic.loc[answered.index, q].astype(str)
        if answered.empty:
            continue
        cats = [v for v in values if v in set(answered) | set(auto)]
        table = pd.crosstab(pd.Categorical(answered.astype(str), categories=cats),
                            pd.Categorical(auto, categories=cats), dropna=False)
        k = cohen_kappa(table.to_numpy())
        rows.append({"question": q, "n": len(answered), "agree": int(np.trace(table)),
                     "observed_agreement": k.observed, "expected_agreement": k.expected,
                     "kappa": k.kappa, "kappa_se": k.se, "kappa_low": k.low,
                     "kappa_high": k.high})
        for h in cats:
            for a in cats:
                cells.append({"question": q, "human": h, "automatic": a,
                              "count": int(table.loc[h, a])})
    return pd.DataFrame(rows), pd.DataFrame(cells, columns=["question", "human", "automatic",
                                                             "count"])
