"""One self-contained HTML report of an audit run.

Figures are embedded as data URIs and the style is inline, so the single file can be mailed,
attached to a paper's supplement or opened offline years later. It shows the statistics'
summary, every figure, every table of the stats stage, crop retention, the exact parameters
and the provenance of the run (commit, model and dataset digests, package versions).
"""

from __future__ import annotations

import base64
import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from cropaudit.errors import InputFileError
from cropaudit.provenance import file_digest, git_state, package_versions


class ReportParams(BaseModel):
    """``report:`` section of params.yaml."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field("cropaudit: saliency cropping audit", description="report heading")
    max_table_rows: int = Field(200, gt=0, description="rows shown per table (all are in CSVs)")


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
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


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


def _tables(stats_dir: Path, max_rows: int) -> list[Table]:
    out = []
    for p in sorted(stats_dir.glob("*.csv")):
        try:
            df = pd.read_csv(p)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
            raise InputFileError(f"{p}: not a readable CSV table") from None
        out.append(Table(p.stem, _table_html(df, max_rows), len(df)))
    return out


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
) -> str:
    """The report's HTML text."""
    import jinja2

    for d, what in ((stats_dir, "stats folder"), (figures_dir, "figures folder")):
        if not d.is_dir():
            raise InputFileError(f"{d}: {what} not found")
    summary_md = stats_dir / "summary.md"
    summary = _markdown(summary_md.read_text(encoding="utf-8")) if summary_md.is_file() else ""
    retention = None
    if crops_path is not None:
        from cropaudit.crop_scoring import retention_summary
        from cropaudit.tables import CROP_COLUMNS, read_stage_table

        crops = read_stage_table(crops_path, CROP_COLUMNS, what="crops table",
                                 producer="score-crops")
        retention = _table_html(retention_summary(crops), max_table_rows)
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
        loader=jinja2.PackageLoader("cropaudit", "templates"),
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
