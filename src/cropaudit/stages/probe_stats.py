"""The probe statistics stage end to end: every cropper's probe (and edit) tables in; the
probes folder (tables, summary, figures) and its metrics out.

The statistics are in :mod:`cropaudit.stats.probes` and :mod:`cropaudit.stats.edits`; this
module reads, calls them and writes. ``cropaudit probe-stats``
(:mod:`cropaudit.commands.probe_stats`) is its command line.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from cropaudit.errors import InputFileError
from cropaudit.outputs import atomic_dir, json_safe, remove_outputs, write_json

if TYPE_CHECKING:
    from cropaudit.config import Params


@dataclass(frozen=True)
class ProbeTables:
    """What probe-stats computes: each a table of the probes folder."""

    flips: pd.DataFrame
    flips_by_comparison: pd.DataFrame
    verdicts: pd.DataFrame
    soft: pd.DataFrame
    survival: pd.DataFrame
    edits: pd.DataFrame


def run_probe_stats(params: Params, tables: Sequence[Path], edits: Sequence[Path], *,
                    out_dir: Path, metrics_path: Path) -> str:
    """Measure every probe against its baseline; write ``out_dir`` whole and the metrics, and
    return the summary (Markdown)."""
    result = _probe_tables(params, tables, edits)
    lines = summary_lines(result.flips, result.verdicts, result.soft, result.survival,
                          result.edits)
    if len(result.edits):
        from cropaudit.stats.edits import edit_lines

        lines += edit_lines(result.edits)
    summary = "\n".join(["## Probes: how fragile is each verdict", "",
                         *(f"- {ln}" for ln in lines)]) + "\n"
    try:
        _write_folder(out_dir, result, summary)
        write_json(metrics_path, json_safe(probe_metrics(result.flips, result.verdicts,
                                                         result.soft, result.edits)))
    except BaseException:
        remove_outputs(metrics_path)
        raise
    return summary


def _probe_tables(params: Params, tables: Sequence[Path], edits: Sequence[Path]) -> ProbeTables:
    """Flip rates, verdicts, soft outcomes and grid survival of the probe tables, and the
    counterfactual edits of the edit tables (empty without any)."""
    from cropaudit.stats import probes as sp

    alpha = params.stats.alpha
    outcomes = pd.concat([pd.read_parquet(p) for p in tables], ignore_index=True)
    if "probe" not in outcomes.columns or not (outcomes["probe"] == sp.BASELINE).any():
        names = ", ".join(str(p) for p in tables)
        raise InputFileError(f"{names}: no baseline probe rows (run `cropaudit probe` first)")
    tuples = sp.probe_tuples(outcomes)
    edit_rows = pd.DataFrame()
    if edits:
        from cropaudit.stats.edits import edit_table

        edit_rows = edit_table(pd.concat([pd.read_parquet(p) for p in edits],
                                         ignore_index=True), alpha)
    return ProbeTables(
        flips=sp.flip_table(tuples, alpha),
        flips_by_comparison=sp.flip_table(tuples, alpha, by_comparison=True),
        verdicts=sp.verdict_table(tuples, alpha=alpha, margin=params.stats.equivalence_margin,
                                  correction=params.stats.correction),
        soft=sp.soft_table(tuples, alpha),
        survival=sp.survival_table(outcomes, alpha),
        edits=edit_rows,
    )


def _write_folder(out_dir: Path, t: ProbeTables, summary: str) -> None:
    """The probes folder, swapped in whole: tables, summary, figures."""
    from cropaudit.reporting.figures import save_png
    from cropaudit.reporting.figures.probes import (
        delta_small_multiples,
        dose_response,
        flip_against_offset,
    )
    from cropaudit.stats.probes import stability_matrix

    with atomic_dir(out_dir) as tmp:
        t.flips.to_csv(tmp / "flips.csv", index=False)
        t.flips_by_comparison.to_csv(tmp / "flips-by-comparison.csv", index=False)
        t.verdicts.to_csv(tmp / "verdicts.csv", index=False)
        stability_matrix(t.verdicts).to_csv(tmp / "stability.csv", index=False)
        t.soft.to_csv(tmp / "soft.csv", index=False)
        t.survival.to_csv(tmp / "survival.csv", index=False)
        t.edits.to_csv(tmp / "edits.csv", index=False)
        (tmp / "summary.md").write_text(summary, encoding="utf-8")
        save_png(delta_small_multiples(t.verdicts), tmp / "deltas.png")
        save_png(flip_against_offset(t.flips), tmp / "flips-offset.png")
        if len(t.edits):
            save_png(dose_response(t.edits), tmp / "dose-response.png")


def probe_metrics(flips: pd.DataFrame, verdicts: pd.DataFrame, soft: pd.DataFrame,
                  edits: pd.DataFrame) -> dict[str, object]:
    """Nested headline numbers: per cropper and setting, flip rate and verdicts kept."""
    out: dict[str, dict[str, dict[str, object]]] = {}
    for r in flips.itertuples():
        out.setdefault(r.cropper, {})[r.setting] = {"flip_rate": r.flip_rate}
    kept = verdicts.groupby(["cropper", "setting"])["survives"].mean()
    for (cropper, setting), share in kept.items():
        out.setdefault(cropper, {}).setdefault(setting, {})["verdicts_kept"] = float(share)
    for r in soft[soft["applicable"]].itertuples() if len(soft) else []:
        out.setdefault(r.cropper, {}).setdefault(r.setting, {})[
            "mass_argmax_disagree"] = r.mass_argmax_disagree
    for r in edits.itertuples() if len(edits) else []:
        out.setdefault(r.cropper, {}).setdefault(f"edit:{r.edit}", {}).update(
            {"win_rate": r.win_rate, "delta_max": r.delta_max})
    return {"probes": out}


def summary_lines(flips: pd.DataFrame, verdicts: pd.DataFrame, soft: pd.DataFrame,
                  survival: pd.DataFrame, edits: pd.DataFrame) -> list[str]:
    """Plain sentences for the report."""
    from cropaudit.stats.probes import BASELINE
    from cropaudit.untrusted import markdown as md

    lines = []
    f = flips[flips["probe"] != BASELINE]
    for cropper, g in f.groupby("cropper", sort=False):
        worst = g.loc[g["flip_rate"].idxmax()]
        pad = g[g["probe"] == "padding"]
        pad_text = (f"; padding offsets flip {100 * pad['flip_rate'].mean():.0f} % on average"
                    if len(pad) else "")
        v = verdicts[(verdicts["cropper"] == cropper) & (verdicts["probe"] != BASELINE)]
        lost = v[~v["survives"]]
        lines.append(
            f"**{md(cropper)}**: the largest flip rate is {100 * worst['flip_rate']:.0f} % "
            f"[{100 * worst['flip_low']:.0f}, {100 * worst['flip_high']:.0f}] under "
            f"`{worst['setting']}`{pad_text}; {len(lost)} of {len(v)} comparison verdicts "
            "change verdict or sign under some setting"
            + (f" ({', '.join(sorted(set(lost['setting'])))})." if len(lost) else "."))
    s = soft[(soft["probe"] == BASELINE)] if len(soft) else soft
    for r in s.itertuples():
        if r.applicable:
            lines.append(f"{md(r.cropper)}: the mass winner disagrees with the argmax winner in "
                         f"{100 * r.mass_argmax_disagree:.0f} % of baseline tuples.")
        else:
            lines.append(f"{md(r.cropper)}: no saliency map, soft outcomes not applicable.")
    if len(survival):
        worst = survival.loc[survival["neither"].idxmax()]
        lines.append(f"3×1 grids: up to {100 * worst['neither']:.0f} % of crops keep neither "
                     f"face ({md(worst['cropper'])}, aspect ratio {worst['aspect_ratio']:g}, "
                     f"{md(worst['comparison'])}).")
    return lines
