"""Simulation study of the stats stage: coverage and size across designs (issue 24).

Every figure about coverage, size or power in docs/statistics.md comes from this script, run
through the project's own code (``audit()``, ``together_model()``, ``compare_croppers()``)
on outcome tables with a known truth (:mod:`cropaudit.stats.simulation`): real pair-tuple
designs, every drawn pair shown in both orders so an image sits left in one composite and
right in another, images reused across tuples, k-way tuples in all cyclic rotations. One
command regenerates the tables and writes them into docs/statistics.md:

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/stats_study.py --jobs 2 --write-docs

(``--quick`` runs every cell with a few replicates, to check the script itself.)

Designs. Pairs: 10, 20, 40 or 80 images per group, or 8 against 60; light reuse (each image
of the larger group in about 2 drawn pairs, both orders shown) or heavy reuse (about 12);
Bradley–Terry outcomes (a fresh draw per composite) or deterministic ones (the same composite
always has the same winner, as a real cropper); image heterogeneity sd 0.5, 1 or 2 on the
log-odds scale; a left preference of 0.3 log-odds in every design. Coverage is measured
where the first group is favoured (strength 0.5, true p ≈ 0.6), size where it is not.

Targets (issue 24): coverage 93–97 % and size 3–7 % in every cell; a cell outside them is
named in the table (``target``) and the summary flags runs in that regime.
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cropaudit.stats.simulation import (
    CropperPairDesign,
    GroupSpec,
    PairDesign,
    TogetherDesign,
    simulate_pairs,
    simulate_together,
    simulate_two_croppers,
    true_p,
)

ALPHA = 0.05
REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "statistics.md"
OUT = REPO / "benchmarks" / "results" / "stats_study.csv"
MARK = "<!-- stats-study:{} -->"
#: log-odds advantage of the first group where coverage is measured (true p ≈ 0.6)
EFFECT = 0.5
POSITION = 0.3


# -- cells -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Cell:
    """One design of the study and how to run it."""

    study: str  # pairs | attributes | kway | croppers | power
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    reps: int = 300


def pair_design(images: tuple[int, int], uses: int, outcome: str, sd: float,
                strength: float = 0.0) -> PairDesign:
    """Two groups x, y; ``uses``: drawn pairs per image of the larger group."""
    groups = (GroupSpec(("x",), images[0], strength), GroupSpec(("y",), images[1], 0.0))
    return PairDesign(groups=groups, attributes=("feature",), bases=uses * max(images),
                      image_sd=sd, outcome=outcome, position=POSITION)  # type: ignore[arg-type]


def four_groups(images: int, uses: int, outcome: str, sd: float, female: float = 0.0
                ) -> PairDesign:
    """2 × 2 attributes (race x/y, gender f/m); ``female``: the f groups' advantage."""
    groups = tuple(GroupSpec((race, gender), images, female if gender == "f" else 0.0)
                   for race in ("x", "y") for gender in ("f", "m"))
    return PairDesign(groups=groups, attributes=("race", "gender"), bases=uses * images,
                      image_sd=sd, outcome=outcome, position=POSITION)  # type: ignore[arg-type]


IMAGES = ((10, 10), (20, 20), (40, 40), (80, 80), (8, 60))
REUSE = {"light": 2, "heavy": 12}
OUTCOMES = ("bt", "deterministic")
SDS = (0.5, 1.0, 2.0)


def cells(reps: int) -> list[Cell]:
    """Every cell of the study (``reps`` replicates per condition)."""
    out = []
    for images, (reuse, uses), outcome, sd in itertools.product(IMAGES, REUSE.items(),
                                                                 OUTCOMES, SDS):
        name = f"{images[0]} vs {images[1]}, {reuse}, {outcome}, sd {sd:g}"
        out.append(Cell("pairs", name, {"images": images, "uses": uses, "outcome": outcome,
                                        "sd": sd, "reuse": reuse}, reps))
    for images, outcome in itertools.product((10, 20, 40), OUTCOMES):
        out.append(Cell("attributes", f"2 × 2 groups of {images}, ~10 uses, {outcome}, sd 1",
                        {"images": images, "uses": 10, "outcome": outcome, "sd": 1.0}, reps))
    for images, draws, sd in [*((i, d, 0.5) for i in (10, 20, 40, 80) for d in (100, 250, 1000)),
                              (20, 250, 1.0), (20, 250, 2.0), (80, 250, 1.0), (80, 250, 2.0)]:
        out.append(Cell("kway", f"4 groups of {images}, {draws} draws, sd {sd:g}",
                        {"images": images, "draws": draws, "sd": sd, "outcome": "bt"},
                        min(reps, 200)))
    out.append(Cell("kway", "4 groups of 20, 250 draws, sd 0.5, deterministic",
                    {"images": 20, "draws": 250, "sd": 0.5, "outcome": "deterministic"},
                    min(reps, 200)))
    out.append(Cell("kway-strength", "4 groups of 40, 250 draws, sd 1.5, one group +0.4",
                    {"images": 40, "draws": 250, "sd": 1.5, "effect": 0.4}, min(reps, 200)))
    for images, uses, outcome, sd in ((20, 10, "bt", 1.0), (20, 10, "deterministic", 1.0),
                                      (10, 25, "bt", 1.0), (40, 2, "bt", 1.0),
                                      (20, 10, "bt", 2.0)):
        out.append(Cell("croppers", f"{images} images, ~{uses} uses, {outcome}, sd {sd:g}",
                        {"images": images, "uses": uses, "outcome": outcome, "sd": sd}, reps))
    for images, uses, outcome, sd in ((20, 10, "bt", 1.0), (40, 12, "deterministic", 1.0),
                                      (10, 12, "bt", 0.5), (80, 2, "bt", 1.0)):
        out.append(Cell("power", f"{images} images, ~{uses} uses, {outcome}, sd {sd:g}",
                        {"images": images, "uses": uses, "outcome": outcome, "sd": sd}, reps))
    for images, (reuse, uses), outcome in itertools.product(
            ((10, 10), (20, 20), (40, 40), (8, 60)), REUSE.items(), OUTCOMES):
        out.append(Cell("method", f"{images[0]} vs {images[1]}, {reuse}, {outcome}, sd 1",
                        {"images": images, "uses": uses, "outcome": outcome, "sd": 1.0}, reps))
    return out


# -- running one cell --------------------------------------------------------------------------

def _params(**stats: Any):
    from cropaudit.stats.params import StatsParams

    return StatsParams(**{"bootstrap_resamples": 0, "aggregates": [], **stats})


def _audit(table: pd.DataFrame, attributes: list[str], seed: int, **stats: Any):
    from cropaudit.stats.audit import audit
    from cropaudit.stats.groups import groups_from_table

    return audit(table, _params(**stats), groups_from_table(table, attributes), seed)


def _rate(hits: Iterable[bool]) -> float:
    values = list(hits)
    return float(np.mean(values)) if values else float("nan")


def run_pairs(cell: Cell, seed: int) -> dict[str, Any]:
    """Coverage where the first group is favoured, size where it is not: the comparison's
    interval and verdict test, and the group-level disparity's difference."""
    p = cell.params
    out: dict[str, Any] = {}
    for label, strength in (("alt", EFFECT), ("null", 0.0)):
        design = pair_design(p["images"], p["uses"], p["outcome"], p["sd"], strength)
        truth = true_p(design.groups[0], design.groups[1], design)
        cover, reject, dcover, dreject, bounds, missing, tuples = [], [], [], [], [], [], 0
        for r in range(cell.reps):
            table, _ = simulate_pairs(design, seed + r)
            res = _audit(table, ["feature"], r)
            c = res.comparisons.iloc[0]
            tuples = int(c["n"])
            missing.append(bool(c["not_estimable"]))
            if not c["not_estimable"]:
                cover.append(c["ci_low"] <= truth <= c["ci_high"])
                bounds.append(c["equivalence_bound"])
            reject.append(bool(c["p_value_clustered"] < ALPHA))  # NaN: no rejection
            d = res.disparities
            d = d[(d["level"] == "group") & (d["evidence"] != "reference")].iloc[0]
            # the group's share of pairs won minus the reference's: 2p − 1 for x, 1 − 2p for y
            diff = 2 * truth - 1 if d["value"] == "x" else 1 - 2 * truth
            if np.isfinite(d["diff_low"]):
                dcover.append(d["diff_low"] <= diff <= d["diff_high"])
                dreject.append(not d["diff_low"] <= 0 <= d["diff_high"])
        if label == "alt":
            out.update(coverage=_rate(cover), disparity_coverage=_rate(dcover))
        else:
            out.update(size=_rate(reject), disparity_size=_rate(dreject),
                       equivalence_bound=float(np.median(bounds)) if bounds else float("nan"),
                       not_estimable=_rate(missing), tuples=tuples)
    return out


def run_attributes(cell: Cell, seed: int) -> dict[str, Any]:
    """4 groups (2 × 2): the gender-level disparity, the gender aggregate and the position
    model's joint test of its group terms."""
    from cropaudit.stats.position import GROUPS_JOINT

    p = cell.params
    gender = {"name": "gender", "attribute": "gender", "first": "f", "second": "m"}
    out: dict[str, Any] = {}
    for label, female in (("alt", EFFECT), ("null", 0.0)):
        design = four_groups(p["images"], p["uses"], p["outcome"], p["sd"], female)
        mixed = [(a, b) for a, b in itertools.combinations(design.groups, 2)
                 if a.values[1] != b.values[1]]
        # every comparison has the same n: the level's rate is the mean of its comparisons'
        rate_f = float(np.mean([true_p(a, b, design) if a.values[1] == "f"
                                else 1 - true_p(a, b, design) for a, b in mixed]))
        cover, reject, acover, areject, joint = [], [], [], [], []
        for r in range(cell.reps):
            table, _ = simulate_pairs(design, seed + r)
            res = _audit(table, ["race", "gender"], r, aggregates=[gender])
            d = res.disparities
            f = d[(d["level"] == "gender") & (d["value"] == "f")].iloc[0]
            if np.isfinite(f["diff_low"]):
                cover.append(f["diff_low"] <= 2 * rate_f - 1 <= f["diff_high"])
                reject.append(not f["diff_low"] <= 0 <= f["diff_high"])
            agg = res.comparisons[res.comparisons["kind"] == "aggregate"].iloc[0]
            if not agg["not_estimable"]:
                acover.append(agg["ci_low"] <= rate_f <= agg["ci_high"])
                areject.append(agg["p_value_clustered"] < ALPHA)
            pm = res.position_model
            jp = pm.loc[pm["term"] == GROUPS_JOINT, "p_value"]
            if len(jp) and np.isfinite(jp.iloc[0]):
                joint.append(jp.iloc[0] < ALPHA)
        if label == "alt":
            out.update(disparity_coverage=_rate(cover), aggregate_coverage=_rate(acover))
        else:
            out.update(disparity_size=_rate(reject), aggregate_size=_rate(areject),
                       position_joint_size=_rate(joint),
                       tuples=int(len(table) / 2))
    return out


def kway_design(images: int, draws: int, sd: float, outcome: str = "bt",
                effect: float = 0.0) -> TogetherDesign:
    groups = tuple(GroupSpec((f"g{j}",), images, effect if j == 1 else 0.0) for j in range(4))
    return TogetherDesign(groups=groups, attributes=("grp",), draws=draws, image_sd=sd,
                          outcome=outcome)  # type: ignore[arg-type]


def _together(table: pd.DataFrame, seed: int) -> pd.DataFrame:
    from cropaudit.stats.multinomial import together_model
    from cropaudit.stats.outcomes import together_members

    members = together_members(table)
    groups = members["comparison"].iloc[0].split("~")
    return together_model(members, groups, alpha=ALPHA, seed=seed, resamples=199)


def run_kway(cell: Cell, seed: int) -> dict[str, Any]:
    """Size of the k-way group test under a pure middle-position preference."""
    p = cell.params
    design = kway_design(p["images"], p["draws"], p["sd"], p["outcome"])
    reject, naive, dfs, flagged, missing = [], [], [], [], []
    distinct = []
    for r in range(cell.reps):
        out = _together(simulate_together(design, seed + r), r)
        row = out.iloc[0]
        missing.append(bool(row["not_estimable"]))
        if np.isfinite(row["group_p_value"]):
            reject.append(row["group_p_value"] < ALPHA)
            dfs.append(row["group_df2"])
        naive.append(row["naive_mc_p_value"] < ALPHA)
        flagged.append(bool(row["above_nominal"]))
        distinct.append(int(row["clusters"]))
    return {"size": _rate(reject), "naive_mc_size": _rate(naive),
            "median_df": float(np.median(dfs)) if dfs else float("nan"),
            "distinct_images": float(np.mean(distinct)), "flagged": _rate(flagged),
            "not_estimable": _rate(missing), "tuples": 4 * p["draws"]}


def kway_truth(effect: float, sd: float) -> float:
    """Population-averaged strength of group 1 (the quantity the model estimates): the
    conditional logit fitted to one very large sample from fresh images."""
    from cropaudit.stats.multinomial import conditional_logit

    design = kway_design(5000, 60000, sd, effect=effect)
    table = simulate_together(design, 987654)
    from cropaudit.stats.outcomes import together_members

    m = together_members(table).sort_values(["tuple_id", "position"])
    k = 4
    group = m["group_index"].to_numpy().reshape(-1, k)
    winner = np.argmax(m["won"].to_numpy().reshape(-1, k), axis=1)
    n = len(winner)
    x = np.concatenate([np.broadcast_to(np.eye(k)[None, :, 1:], (n, k, k - 1)),
                        np.eye(k)[group][:, :, 1:]], axis=2)
    fit = conditional_logit(x, winner)
    assert fit is not None
    return float(fit[0][k - 1])  # group 1's strength against group 0


def run_kway_strength(cell: Cell, seed: int) -> dict[str, Any]:
    """Coverage of group 1's strength interval: of the population-averaged strength (what
    the model estimates) and of the per-image log odds ratio (what it does not)."""
    p = cell.params
    design = kway_design(p["images"], 250, p["sd"], effect=p["effect"])
    averaged = kway_truth(p["effect"], p["sd"])
    pa, conditional = [], []
    for r in range(cell.reps):
        row = _together(simulate_together(design, seed + r), r).iloc[1]
        if np.isfinite(row["strength_low"]):
            pa.append(row["strength_low"] <= averaged <= row["strength_high"])
            conditional.append(row["strength_low"] <= p["effect"] <= row["strength_high"])
    return {"coverage": _rate(pa), "conditional_coverage": _rate(conditional),
            "population_averaged": averaged, "per_image": p["effect"], "tuples": 1000}


def run_croppers(cell: Cell, seed: int) -> dict[str, Any]:
    """``disagree`` under a population null: per-image preferences correlate at 0.7, equal
    population Δ; the interval's coverage of Δ₁ − Δ₂ = 0 is 1 − this rate."""
    from cropaudit.stats.croppers import compare_croppers

    p = cell.params
    pair = pair_design((p["images"], p["images"]), p["uses"], p["outcome"], p["sd"])
    design = CropperPairDesign(pair=pair, correlation=0.7)
    fired, missing = [], []
    for r in range(cell.reps):
        table = compare_croppers(simulate_two_croppers(design, seed + r), alpha=ALPHA)
        fired.append(bool(table["disagree"].iloc[0]))
        missing.append(bool(table["not_estimable"].iloc[0]))
    return {"size": _rate(fired), "not_estimable": _rate(missing),
            "tuples": 2 * pair.bases}


def run_power(cell: Cell, seed: int) -> dict[str, Any]:
    """Power of the verdict at the minimum detectable Δ the audit reports: the median
    reported MDΔ under no effect, then the rejection rate where the true Δ is that MDΔ."""
    from scipy.optimize import brentq

    p = cell.params
    images = (p["images"], p["images"])
    null = pair_design(images, p["uses"], p["outcome"], p["sd"])
    reported = []
    for r in range(min(cell.reps, 100)):
        table, _ = simulate_pairs(null, seed + 10_000 + r)
        c = _audit(table, ["feature"], r).comparisons.iloc[0]
        reported.append(c["min_detectable_delta_clustered"])
    mdd = float(np.nanmedian(reported))

    def gap(s: float) -> float:
        d = pair_design(images, p["uses"], p["outcome"], p["sd"], s)
        return true_p(d.groups[0], d.groups[1], d) - 0.5 - mdd

    strength = brentq(gap, 0.0, 10.0)
    design = pair_design(images, p["uses"], p["outcome"], p["sd"], strength)
    hits = []
    for r in range(cell.reps):
        table, _ = simulate_pairs(design, seed + r)
        c = _audit(table, ["feature"], r).comparisons.iloc[0]
        hits.append(c["p_value_clustered"] < ALPHA)
    return {"min_detectable_delta": mdd, "power": _rate(hits), "tuples": 2 * design.bases}


def run_method(cell: Cell, seed: int) -> dict[str, Any]:
    """The choice of the headline method: coverage of the cluster-robust logit interval (the
    headline) and of the two-way cluster bootstrap (500 resamples, the cross-check columns)
    in the same runs, where p ≈ 0.6."""
    p = cell.params
    design = pair_design(p["images"], p["uses"], p["outcome"], p["sd"], EFFECT)
    truth = true_p(design.groups[0], design.groups[1], design)
    logit, boot = [], []
    for r in range(cell.reps):
        table, _ = simulate_pairs(design, seed + r)
        res = _audit(table, ["feature"], r, bootstrap_resamples=500)
        c = res.comparisons.iloc[0]
        if not c["not_estimable"]:
            logit.append(c["ci_low"] <= truth <= c["ci_high"])
        if np.isfinite(c["boot_low"]):
            boot.append(c["boot_low"] <= truth <= c["boot_high"])
    return {"coverage": _rate(logit), "bootstrap_coverage": _rate(boot),
            "tuples": 2 * design.bases}


RUNNERS: dict[str, Callable[[Cell, int], dict[str, Any]]] = {
    "pairs": run_pairs, "attributes": run_attributes, "kway": run_kway,
    "kway-strength": run_kway_strength, "croppers": run_croppers, "power": run_power,
    "method": run_method,
}


def run_cell(item: tuple[int, Cell]) -> dict[str, Any]:
    index, cell = item
    started = time.perf_counter()
    result = RUNNERS[cell.study](cell, seed=1_000_003 * (index + 1))
    return {"index": index, "study": cell.study, "cell": cell.name, "reps": cell.reps,
            **result, "seconds": round(time.perf_counter() - started, 1)}


# -- the tables --------------------------------------------------------------------------------

def mc_se(rate: float, reps: int) -> float:
    return math.sqrt(rate * (1 - rate) / reps)


def _runs(table: pd.DataFrame) -> str:
    """'300 runs each, MC SE ≈ 1.3 points at 95 % and 1.3 at 5 %' for a study's table."""
    reps = int(table["reps"].iloc[0])
    return f"{reps} runs each, Monte Carlo SE ≈ {100 * mc_se(0.95, reps):.1f} points"


def target(row: pd.Series) -> str:
    """'' when every measured rate of the row meets the issue's targets, else which miss."""
    misses = []
    for col in ("coverage", "disparity_coverage", "aggregate_coverage"):
        v = row.get(col)
        if v is not None and np.isfinite(v) and not 0.93 <= v <= 0.97:
            misses.append(f"{col.replace('_', ' ')} {100 * v:.1f} %")
    for col in ("size", "disparity_size", "aggregate_size", "position_joint_size"):
        v = row.get(col)
        if v is not None and np.isfinite(v) and not 0.03 <= v <= 0.07:
            misses.append(f"{col.replace('_', ' ')} {100 * v:.1f} %")
    return "; ".join(misses)


def _pct(v: Any) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.1f}"


def markdown(results: pd.DataFrame) -> str:
    """The tables of docs/statistics.md."""
    lines: list[str] = []
    pairs = results[results["study"] == "pairs"]
    if len(pairs):
        lines += ["**Pairs, two groups** (coverage where p ≈ 0.6, size where p = 0.5; "
                  f"{_runs(pairs)} for coverage and for size):", "",
                  "| images | reuse | outcome | sd | tuples | coverage % | size % "
                  "| disparity coverage % | disparity size % | equivalence bound (median) "
                  "| not estimable % | target |",
                  "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
        for r in pairs.itertuples():
            images, reuse, outcome, sd = r.cell.split(", ")
            lines.append(
                f"| {images} | {reuse} | {outcome} | {sd.removeprefix('sd ')} | {r.tuples} "
                f"| {_pct(r.coverage)} | {_pct(r.size)} | {_pct(r.disparity_coverage)} "
                f"| {_pct(r.disparity_size)} | ±{_pct(r.equivalence_bound)} pp "
                f"| {_pct(r.not_estimable)} | {r.target or 'met'} |")
        lines.append("")
    attrs = results[results["study"] == "attributes"]
    if len(attrs):
        lines += ["**Four groups (2 × 2 attributes): the gender level** (disparity table and "
                  "aggregate female vs male; the position model's joint test of its group "
                  f"terms; {_runs(attrs)}):", "",
                  "| design | disparity coverage % | disparity size % | aggregate coverage % "
                  "| aggregate size % | position joint test size % | target |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for r in attrs.itertuples():
            lines.append(f"| {r.cell} | {_pct(r.disparity_coverage)} | {_pct(r.disparity_size)} "
                         f"| {_pct(r.aggregate_coverage)} | {_pct(r.aggregate_size)} "
                         f"| {_pct(r.position_joint_size)} | {r.target or 'met'} |")
        lines.append("")
    kway = results[results["study"] == "kway"]
    if len(kway):
        lines += ["**All groups at once** (4 groups, cyclic rotations, middle positions "
                  "preferred 1 : 1.5 : 1.5 : 1, no group effect; "
                  f"{_runs(kway)}):", "",
                  "| design | distinct images of a group (mean) | draws per image | size % "
                  "| median df | naive Monte Carlo size % | flagged % | target |",
                  "|---|---:|---:|---:|---:|---:|---:|---|"]
        for r in kway.itertuples():
            draws = int(r.tuples) // 4
            images = int(re.search(r"groups of (\d+)", r.cell).group(1))  # type: ignore[union-attr]
            lines.append(f"| {r.cell} | {r.distinct_images:.1f} | {draws / images:.1f} "
                         f"| {_pct(r.size)} | {r.median_df:.1f} | {_pct(r.naive_mc_size)} "
                         f"| {_pct(r.flagged)} | {r.target or 'met'} |")
        lines.append("")
    strength = results[results["study"] == "kway-strength"]
    for r in strength.itertuples():
        lines += [f"**What the k-way strengths estimate** ({r.cell}): the interval covered the "
                  f"population-averaged strength ({r.population_averaged:+.3f}, the model's "
                  f"limit in a very large sample) in {_pct(r.coverage)} % of runs, the per-image "
                  f"log odds ratio ({r.per_image:+.2f}) in {_pct(r.conditional_coverage)} %.", ""]
    croppers = results[results["study"] == "croppers"]
    if len(croppers):
        lines += ["**Two croppers, population null** (per-image preferences correlated at "
                  f"0.7, equal population Δ; {_runs(croppers)}): how often `disagree` "
                  "fires:", "",
                  "| design | tuples | disagree % | target |", "|---|---:|---:|---|"]
        for r in croppers.itertuples():
            lines.append(f"| {r.cell} | {r.tuples} | {_pct(r.size)} | {r.target or 'met'} |")
        lines.append("")
    method = results[results["study"] == "method"]
    if len(method):
        lines += ["**Choosing the headline method** (coverage where p ≈ 0.6, the same runs; "
                  f"sd 1; {_runs(method)}):", "",
                  "| design | tuples | cluster-robust logit (CR3, t on G − 1) % "
                  "| two-way cluster bootstrap % |", "|---|---:|---:|---:|"]
        for r in method.itertuples():
            lines.append(f"| {r.cell} | {r.tuples} | {_pct(r.coverage)} "
                         f"| {_pct(r.bootstrap_coverage)} |")
        lines.append("")
    power = results[results["study"] == "power"]
    if len(power):
        lines += ["**Power at the reported minimum detectable Δ** (nominal 80 %):", "",
                  "| design | tuples | reported MDΔ (median) | power % |", "|---|---:|---:|---:|"]
        for r in power.itertuples():
            lines.append(f"| {r.cell} | {r.tuples} | ±{_pct(r.min_detectable_delta)} pp "
                         f"| {_pct(r.power)} |")
        lines.append("")
    return "\n".join(lines)


def write_docs(text: str, seconds: float, jobs: int) -> None:
    """Replace the study section of docs/statistics.md between its markers."""
    doc = DOC.read_text(encoding="utf-8")
    begin, end = MARK.format("begin"), MARK.format("end")
    if begin not in doc or end not in doc:
        raise SystemExit(f"{DOC}: markers {begin} / {end} not found")
    stamp = (f"_Regenerated by `benchmarks/stats_study.py` in {seconds / 60:.0f} min with "
             f"{jobs} worker(s)._")
    body = f"{begin}\n{stamp}\n\n{text}\n{end}"
    start, stop = doc.index(begin), doc.index(end) + len(end)
    DOC.write_text(doc[:start] + body + doc[stop:], encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=300, help="replicates per condition")
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--quick", action="store_true", help="3 replicates per cell")
    parser.add_argument("--only", nargs="+", choices=sorted(RUNNERS), help="studies to run")
    parser.add_argument("--match", default="", help="only cells whose name contains this")
    parser.add_argument("--out", type=Path, default=OUT, help="CSV of every cell")
    parser.add_argument("--write-docs", action="store_true",
                        help="write the tables into docs/statistics.md")
    parser.add_argument("--merge", type=Path, default=None,
                        help="a previous run's CSV: its cells not rerun now are kept")
    args = parser.parse_args(argv)
    todo = [c for c in cells(3 if args.quick else args.reps)
            if (not args.only or c.study in args.only) and args.match in c.name]
    if args.quick:
        todo = [replace(c, reps=3) for c in todo]
    started = time.perf_counter()
    rows = []
    with Pool(args.jobs) if args.jobs > 1 else _Serial() as pool:
        for row in pool.imap_unordered(run_cell, list(enumerate(todo))):
            rows.append(row)
            print(f"[{len(rows)}/{len(todo)}] {row['study']}: {row['cell']} "
                  f"({row['seconds']} s)", file=sys.stderr, flush=True)
            partial = args.out.with_suffix(".partial.csv")  # a long run keeps what it has
            partial.parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows).to_csv(partial, index=False)
    results = pd.DataFrame(rows)
    if args.merge is not None:
        previous = pd.read_csv(args.merge)
        if "target" in previous:
            previous = previous.drop(columns="target")
        done = set(zip(results["study"], results["cell"], strict=True))
        keep = [(s, c) not in done for s, c in zip(previous["study"], previous["cell"],
                                                   strict=True)]
        previous = previous[keep]
        if "index" not in previous:
            previous = previous.assign(index=range(len(previous)))
        results = pd.concat([previous, results], ignore_index=True)
        order = {(c.study, c.name): i for i, c in enumerate(cells(args.reps))}
        results["index"] = [order.get((s, c), 10_000)
                            for s, c in zip(results["study"], results["cell"], strict=True)]
    results = results.sort_values("index").drop(columns="index")
    results["target"] = [target(r) for _, r in results.iterrows()]
    seconds = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    results.to_csv(args.out, index=False)
    args.out.with_suffix(".partial.csv").unlink(missing_ok=True)
    text = markdown(results)
    print(text)
    print(f"{len(todo)} cells in {seconds / 60:.1f} min ({args.jobs} worker(s)); "
          f"wrote {args.out}", file=sys.stderr)
    if args.write_docs:
        write_docs(text, seconds, args.jobs)
    return 0


class _Serial:
    """A Pool stand-in for one worker (plain loop, same interface)."""

    def __enter__(self) -> _Serial:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @staticmethod
    def imap_unordered(func, items):  # type: ignore[no-untyped-def]
        return map(func, items)


if __name__ == "__main__":
    raise SystemExit(main())
