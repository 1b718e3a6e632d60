"""The comparison stage end to end: every cropper's outcomes in; the comparison folder (tables,
summary, findings for the report, forest plot) and its metrics out.

The statistics are in :mod:`cropaudit.stats.croppers`; this module reads, calls them and
writes. ``cropaudit compare-croppers`` (:mod:`cropaudit.commands.compare_croppers`) is its
command line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cropaudit.contracts import COMPARISON_SEP, FINDINGS_DIR, findings_path, read_outcomes
from cropaudit.errors import ConfigError
from cropaudit.outputs import atomic_dir, json_safe, remove_outputs, write_json
from cropaudit.untrusted import markdown as md

if TYPE_CHECKING:
    from cropaudit.config import Params


def run_compare_croppers(params: Params, outcomes: Sequence[tuple[str, Path]], *,
                         out_dir: Path, metrics_path: Path) -> list[str]:
    """Compare the croppers of ``outcomes`` (name, saliency outcomes) on their shared tuples;
    write ``out_dir`` whole and the metrics, and return the finding sentences."""
    from cropaudit.stats.croppers import (
        compare_croppers,
        cropper_pairs,
        delta_by_cropper,
        disagreement_summary,
    )

    names = [n for n, _ in outcomes]
    if len(set(names)) != len(names):
        raise ConfigError("--outcomes: each cropper may be given once")
    pairs = cropper_pairs({name: read_outcomes(path) for name, path in outcomes})
    deltas = delta_by_cropper(pairs, params.stats.alpha)
    agreement = compare_croppers(pairs, alpha=params.stats.alpha)
    lines = disagreement_summary(agreement)
    tuples = pairs["tuple_id"].nunique() if len(pairs) else 0
    try:
        _write_folder(out_dir, deltas, agreement, _provenance(names),
                      _summary(names, tuples, lines), lines)
        write_json(metrics_path, json_safe(comparison_metrics(deltas, agreement)))
    except BaseException:
        remove_outputs(metrics_path)
        raise
    return lines


def _provenance(names: list[str]) -> pd.DataFrame:
    """Each cropper's version, licence and whether it has a saliency map ("unknown" for one
    that is not installed here)."""
    from cropaudit.croppers.registry import available

    specs = available(warn=False)
    return pd.DataFrame([
        {"cropper": n, "version": specs[n].version() if n in specs else "unknown",
         "licence": specs[n].licence if n in specs else "unknown",
         "has_map": specs[n].has_map if n in specs else None}
        for n in names])


def _summary(names: list[str], tuples: int, lines: list[str]) -> str:
    """summary.md: which croppers, how many shared tuples, the finding sentences."""
    return "\n".join(["## Croppers compared", "",
                      f"Croppers: {', '.join(md(n) for n in names)}; the same "
                      f"{tuples} pair tuples each.", "", *(f"- {md(ln)}" for ln in lines)]) + "\n"


def _write_folder(out_dir: Path, deltas: pd.DataFrame, agreement: pd.DataFrame,
                  provenance: pd.DataFrame, summary: str, lines: list[str]) -> None:
    """The comparison folder, swapped in whole: tables, summary, findings, forest plot."""
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.croppers import cropper_forest

    with atomic_dir(out_dir) as tmp:
        deltas.to_csv(tmp / "deltas.csv", index=False)
        agreement.to_csv(tmp / "agreement.csv", index=False)
        provenance.to_csv(tmp / "croppers.csv", index=False)
        (tmp / "summary.md").write_text(summary, encoding="utf-8")
        (tmp / FINDINGS_DIR).mkdir()
        findings_path(tmp, "disagreements.json").write_text(
            json.dumps(lines, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        save_png(cropper_forest(deltas, title="Δ by cropper"), tmp / "forest.png")


def comparison_metrics(deltas: pd.DataFrame, agreement: pd.DataFrame) -> dict[str, object]:
    """Nested numbers for metrics.json: Δ per cropper, agreement per pair of croppers."""
    by_cropper: dict[str, dict[str, object]] = {}
    by_pair: dict[str, dict[str, object]] = {}
    out: dict[str, object] = {"croppers": by_cropper, "pairs": by_pair}
    for r in deltas.itertuples():
        by_cropper.setdefault(str(r.cropper), {})[str(r.comparison)] = {
            "delta": r.delta, "delta_low": r.delta_low, "delta_high": r.delta_high}
    for r in agreement.itertuples() if len(agreement) else []:
        by_pair.setdefault(f"{r.first}{COMPARISON_SEP}{r.second}", {})[str(r.comparison)] = {
            "agreement": r.agreement, "difference": r.difference,
            "diff_low": r.diff_low, "diff_high": r.diff_high,
            "p_value_holm": r.p_value_holm, "disagree": bool(r.disagree)}
    out["disagreements"] = int(agreement["disagree"].sum()) if len(agreement) else 0
    return out
