"""One self-contained HTML report of an audit run.

Figures are embedded as data URIs and the style is inline, so the single file can be mailed,
attached to a paper's supplement or opened offline years later. It shows the statistics'
summary, every figure, every table of the stats stage, crop retention, the exact parameters
and the provenance of the run (commit, model and dataset digests, package versions), and,
when the face stages ran, a section on faces (detector, salient point on the face, face kept
by the crop, per group and attribute value) and one on the gaze analysis (selection, rates,
sample review sheets and how to review by hand).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from cropaudit.contracts import findings_path, read_stats_table
from cropaudit.errors import InputFileError
from cropaudit.reporting.params import ReportParams as ReportParams
from cropaudit.reporting.provenance import file_digest, git_state, package_versions


@dataclass(frozen=True)
class Figure:
    name: str
    data_uri: str


@dataclass(frozen=True)
class Table:
    name: str
    html: str
    rows: int


def _markdown(text: str) -> str:
    """HTML of the stages' Markdown summaries, with raw HTML, images and links switched off.

    The summaries put names from the data in through :func:`cropaudit.untrusted.markdown`;
    this is the second guard: even an unescaped ``![t](https://…)`` cannot make the page,
    which promises to be self-contained, fetch anything or link out.
    """
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False}).enable("table")
    return md.disable(["image", "link", "autolink"]).render(text)


def _figures(figures_dir: Path) -> list[Figure]:
    out = []
    for p in sorted(figures_dir.glob("*.png")):
        b64 = base64.b64encode(p.read_bytes()).decode("ascii")
        out.append(Figure(p.stem, f"data:image/png;base64,{b64}"))
    return out


def _table_html(df: pd.DataFrame, max_rows: int) -> str:
    return df.head(max_rows).to_html(
        index=False, border=0, classes="table", float_format=lambda v: f"{v:.4g}", na_rep=""
    )


#: Tables of the stats folder the report leaves out: ``tidy.csv`` is the long form of the
#: tables it shows.
NOT_SHOWN = {"tidy"}


def _tables(stats_dir: Path, max_rows: int) -> list[Table]:
    out = []
    for p in sorted(p for p in stats_dir.glob("*.csv") if p.stem not in NOT_SHOWN):
        df = read_stats_table(p, required=False)  # empty (no together tuples, ...) is valid
        if len(df.columns):
            out.append(Table(p.stem, _table_html(df, max_rows), len(df)))
    return out


SOURCE_TITLES = {
    "single": "Single images (each dataset image cropped on its own)",
    "pair": "Pairs (members of two-image composites)",
    "together": "All groups at once (members of k-way composites)",
}
#: Review sheets embedded in the report as examples.
SAMPLE_SHEETS = 2


#: columns of the face disparity table shown in the report (all are in face_disparities.csv)
DISPARITY_COLUMNS = ["source", "measure", "aspect_ratio", "level", "value", "n", "rate",
                     "ci_low", "ci_high", "reference", "diff", "diff_low", "diff_high", "ratio",
                     "evidence", "explanation"]


def _faces_section(stats_dir: Path, max_rows: int, level: int) -> dict[str, object] | None:
    """Face rates per source (the stats stage's findings: clustered intervals when it wrote the
    disparity table, else naive ones) and the disparities between attribute values."""
    if not (stats_dir / "face_rates.csv").is_file():
        return None
    read_stats_table(stats_dir / "face_rates.csv", allow_empty=False)  # refused when empty
    disparities = read_stats_table(stats_dir / "face_disparities.csv", required=False)
    clustered = len(disparities) > 0
    sources = []
    for source, title in SOURCE_TITLES.items():
        wide = read_stats_table(findings_path(stats_dir, f"face_rates_{source}.csv"),
                                required=False)
        if len(wide.columns):
            sources.append({"title": title, "html": _table_html(wide, max_rows)})
    differences = pd.DataFrame()
    if clustered:
        rows = disparities[(disparities["level"] != "group")
                           & (disparities["evidence"] != "reference")]
        differences = rows[[c for c in DISPARITY_COLUMNS if c in rows.columns]]
    return {"sources": sources, "clustered": clustered, "level": level,
            "differences": _table_html(differences, max_rows) if len(differences) else ""}


def _gaze_section(gaze_dir: Path | None, max_rows: int, level: int
                  ) -> dict[str, object] | None:
    """Selection counts, rates, differences (the stage's findings) and a few review sheets of
    the gaze stage."""
    if gaze_dir is None or not (gaze_dir / "selection.csv").is_file():
        return None
    selection = read_stats_table(gaze_dir / "selection.csv", producer="gaze", allow_empty=False)
    labels = read_stats_table(gaze_dir / "labels.csv", required=False)
    wide = read_stats_table(findings_path(gaze_dir, "rates.csv"), required=False)
    notable = read_stats_table(findings_path(gaze_dir, "differences.csv"), required=False)
    sheets: list[Figure] = []
    if "sheet" in labels.columns:
        for name in labels["sheet"].dropna().astype(str):
            path = gaze_dir / name
            if name and path.is_file() and len(sheets) < SAMPLE_SHEETS:
                b64 = base64.b64encode(path.read_bytes()).decode("ascii")
                sheets.append(Figure(name, f"data:image/png;base64,{b64}"))
    return {
        "images": len(selection), "tall": int(selection["tall"].sum()) if len(selection) else 0,
        "selected": int(selection["selected"].sum()) if len(selection) else 0,
        "with_face": int(labels["has_face"].sum()) if "has_face" in labels.columns else 0,
        "sheets_total": int((labels["sheet"].fillna("") != "").sum())
        if "sheet" in labels.columns else 0,
        "dir": str(gaze_dir), "rates": _table_html(wide, max_rows) if len(wide) else "",
        "differences": _table_html(notable, max_rows) if len(notable) else "",
        "sheets": sheets,
    }


def _croppers_section(comparison_dir: Path | None, max_rows: int) -> dict[str, object] | None:
    """Which croppers disagree significantly, and where (compare-croppers' folder)."""
    if comparison_dir is None or not (comparison_dir / "agreement.csv").is_file():
        return None
    agreement = read_stats_table(comparison_dir / "agreement.csv", required=False)
    provenance = read_stats_table(comparison_dir / "croppers.csv", required=False)
    columns = ["first", "second", "comparison", "n", "agreement", "delta_first",
               "delta_second", "difference", "diff_low", "diff_high", "p_value_holm",
               "disagree"]
    shown = agreement[[c for c in columns if c in agreement.columns]]
    return {
        "names": ", ".join(provenance["cropper"].astype(str)) if len(provenance) else "",
        "findings": _sentences(findings_path(comparison_dir, "disagreements.json"),
                               "compare-croppers"),
        "figures": _figures(comparison_dir),
        "provenance": _table_html(provenance, max_rows),
        "agreement": _table_html(shown, max_rows),
    }


def _sentences(path: Path, producer: str) -> list[str]:
    """Finding sentences a stage wrote for the report (a JSON list of strings)."""
    if not path.is_file():
        raise InputFileError(f"{path}: not found (run `cropaudit {producer}` first)")
    try:
        lines = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise InputFileError(f"{path}: not readable JSON (re-run `cropaudit {producer}`)"
                             ) from None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise InputFileError(f"{path}: not a list of sentences (re-run `cropaudit {producer}`)")
    return lines


def _probes_section(probes_dir: Path | None, max_rows: int) -> dict[str, object] | None:
    """How fragile each verdict is, and what croppers respond to (probe-stats' folder)."""
    if probes_dir is None or not (probes_dir / "flips.csv").is_file():
        return None
    summary = probes_dir / "summary.md"
    tables = []
    for name, title in (("stability", "Verdict of each comparison under each setting "
                                      "(* = verdict or sign changed)"),
                        ("flips", "Winner flip rate against the baseline"),
                        ("soft", "Soft outcomes and mass-vs-argmax disagreement"),
                        ("survival", "3×1 grids: which face survives the crop"),
                        ("edits", "Counterfactual edits")):
        table = read_stats_table(probes_dir / f"{name}.csv", required=False)
        if len(table):
            tables.append({"title": title, "html": _table_html(table, max_rows)})
    return {"summary": _markdown(summary.read_text(encoding="utf-8"))
            if summary.is_file() else "", "figures": _figures(probes_dir), "tables": tables}


def _retention(stats_dir: Path, crops_path: Path | None, max_rows: int) -> str | None:
    """The crop retention per group, as the stats stage summarised ``crops_path`` (its
    --crops); none without a crops table."""
    if crops_path is None:
        return None
    if not crops_path.is_file():
        raise InputFileError(f"{crops_path}: crops table not found (run `cropaudit score-crops`)")
    path = findings_path(stats_dir, "retention.csv")
    if not path.is_file():
        raise InputFileError(f"{path}: not found (run `cropaudit stats --crops {crops_path}`: "
                             "the stats stage summarises the crop retention)")
    return _table_html(read_stats_table(path, allow_empty=False), max_rows)


def render_report(
    *,
    params_path: Path,
    params_title: str,
    max_table_rows: int,
    stats_dir: Path,
    figures_dir: Path,
    crops_path: Path | None = None,
    dataset_path: Path | None = None,
    model_path: Path | None = None,
    model_backend: str = "",
    gaze_dir: Path | None = None,
    alpha: float = 0.05,
    croppers_dir: Path | None = None,
    probes_dir: Path | None = None,
) -> str:
    """The report's HTML text; interval labels follow ``alpha`` (stats.alpha)."""
    import jinja2

    for d, what in ((stats_dir, "stats folder"), (figures_dir, "figures folder")):
        if not d.is_dir():
            raise InputFileError(f"{d}: {what} not found")
    summary_md = stats_dir / "summary.md"
    summary = _markdown(summary_md.read_text(encoding="utf-8")) if summary_md.is_file() else ""
    retention = _retention(stats_dir, crops_path, max_table_rows)
    dataset = None
    if dataset_path is not None and dataset_path.is_file():
        table = pd.read_parquet(dataset_path)
        dataset = {
            "path": str(dataset_path), "sha256": file_digest(dataset_path), "images": len(table),
            "groups": ", ".join(f"{g} ({n})" for g, n in table["group"].value_counts()
                                .sort_index().items()),
            "licenses": ", ".join(sorted(table["license"].astype(str).unique())),
        }
    git = git_state(params_path.parent if params_path.parent != Path("") else ".")
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("cropaudit.reporting", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    return env.get_template("report.html").render(
        title=params_title,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        summary=summary,
        figures=_figures(figures_dir),
        tables=_tables(stats_dir, max_table_rows),
        max_rows=max_table_rows,
        retention=retention,
        faces=_faces_section(stats_dir, max_table_rows, round(100 * (1 - alpha))),
        gaze=_gaze_section(gaze_dir, max_table_rows, round(100 * (1 - alpha))),
        croppers=_croppers_section(croppers_dir, max_table_rows),
        probes=_probes_section(probes_dir, max_table_rows),
        params_text=params_path.read_text(encoding="utf-8") if params_path.is_file() else "",
        params_path=str(params_path),
        git=git,
        model={"backend": model_backend, "path": str(model_path) if model_path else "",
               "sha256": file_digest(model_path)},
        dataset=dataset,
        versions=package_versions(),
    )


def write_report(path: str | os.PathLike[str], text: str) -> Path:
    from cropaudit.outputs import write_text

    return write_text(path, text)
