"""Outcome tables whose truth is known: the designs the statistics are checked against.

Every claim in docs/statistics.md about coverage or size comes from runs of these generators
through the project's own code (:func:`cropaudit.stats.audit.audit`,
:func:`cropaudit.stats.croppers.compare_croppers`, ...); ``benchmarks/stats_study.py``
regenerates the table. The designs are those of a real audit: a few images per group drawn
with replacement into many tuples, every pair shown in both orders (so an image sits left in
one composite and right in another), k-way tuples in all cyclic rotations.

Outcomes, with u ~ N(0, image_sd²) per image and s per group (log-odds):

* ``bt`` (Bradley–Terry): logit P(left wins) = position + (s + u)[left] − (s + u)[right],
  drawn afresh for every composite;
* ``deterministic``: the same composite (images and order) always has the same winner, as
  a real cropper does: left wins when position + (s + u)[left] − (s + u)[right] + e > 0,
  e ~ Logistic(0, 1) drawn once per distinct composite. Its marginal win probability is the
  Bradley–Terry one, so both share one truth.

The truth is the population quantity the clustered intervals claim to cover: the win
probability averaged over new images of each group, p = ½ Σ_order E[expit(±position + s_a −
s_b + u_a − u_b)], computed by Gauss–Hermite quadrature.

Not imported by any stage command (it is test and benchmark code that ships with the package
so the study can be rerun from an installed copy).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Literal

import numpy as np
import pandas as pd

from cropaudit.contracts import COMPARISON_SEP

Outcome = Literal["bt", "deterministic"]


def expit(v: np.ndarray | float) -> np.ndarray:
    """Logistic function (numpy)."""
    return 1 / (1 + np.exp(-np.asarray(v, dtype=float)))


@dataclass(frozen=True)
class GroupSpec:
    """A simulated group: its attribute values (in attribute order) and its strength."""

    values: tuple[str, ...]
    images: int
    strength: float = 0.0

    @property
    def label(self) -> str:
        """The group label as ``prepare-data`` builds it (values joined by ``_``)."""
        return "_".join(self.values)


@dataclass(frozen=True)
class PairDesign:
    """Pair tuples between every two groups, each drawn tuple shown in both orders."""

    groups: tuple[GroupSpec, ...]
    attributes: tuple[str, ...]
    bases: int  # drawn tuples per comparison
    image_sd: float = 1.0
    outcome: Outcome = "bt"
    position: float = 0.0  # log-odds of the left member
    both_orders: bool = True
    model: str = "simulated"


def two_groups(images: tuple[int, int], *, strength: float = 0.0) -> tuple[GroupSpec, ...]:
    """Groups ``x`` and ``y`` of attribute ``feature``; ``strength`` is x's advantage."""
    return (GroupSpec(("x",), images[0], strength), GroupSpec(("y",), images[1], 0.0))


def quadrature_mean(f, sd: float, points: int = 61) -> float:
    """E[f(Z·sd)] for Z ~ N(0, 1), Gauss–Hermite (probabilists')."""
    if sd == 0:
        return float(f(np.zeros(1))[0])
    x, w = np.polynomial.hermite_e.hermegauss(points)
    return float(np.sum(w * f(x * sd)) / np.sqrt(2 * np.pi))


def true_p(a: GroupSpec, b: GroupSpec, design: PairDesign) -> float:
    """Population P(a's image holds the point), averaged over the orders shown."""
    sd = float(np.sqrt(2) * design.image_sd)
    d = a.strength - b.strength
    orders = (1.0, -1.0) if design.both_orders else (1.0,)
    return float(np.mean([quadrature_mean(lambda z, o=o: expit(o * design.position + d + z), sd)
                          for o in orders]))


def _draw_winner(rng: np.random.Generator, logit: np.ndarray, outcome: Outcome,
                 composite: np.ndarray) -> np.ndarray:
    """1 where the left member wins; ``composite`` keys distinct composites (deterministic)."""
    if outcome == "bt":
        return (rng.random(len(logit)) < expit(logit)).astype(int)
    keys, inverse = np.unique(composite, return_inverse=True)
    noise = rng.logistic(0, 1, len(keys))[np.asarray(inverse).ravel()]
    return (logit + noise > 0).astype(int)


def simulate_pairs(design: PairDesign, seed: int) -> tuple[pd.DataFrame, dict[str, float]]:
    """(outcomes table per docs/data-contracts.md with attribute columns, comparison → true p).

    Images of each group are drawn afresh (u ~ N(0, image_sd²)) for every seed: the truth is
    the population p, not the p of these particular images.
    """
    rng = np.random.default_rng(seed)
    effects = [rng.normal(0, design.image_sd, g.images) for g in design.groups]
    frames, truth = [], {}
    tuple_id = base_id = 0
    for (ia_g, a), (ib_g, b) in combinations(enumerate(design.groups), 2):
        comparison = f"{a.label}{COMPARISON_SEP}{b.label}"
        truth[comparison] = true_p(a, b, design)
        ia = rng.integers(0, a.images, design.bases)
        ib = rng.integers(0, b.images, design.bases)
        sa = a.strength + effects[ia_g][ia]
        sb = b.strength + effects[ib_g][ib]
        bases = np.arange(base_id, base_id + design.bases)
        base_id += design.bases
        for order in (0, 1) if design.both_orders else (0,):
            ids = np.arange(tuple_id, tuple_id + design.bases)
            tuple_id += design.bases
            diff = sa - sb if order == 0 else sb - sa
            composite = (ia * b.images + ib) * 2 + order
            left_won = _draw_winner(rng, design.position + diff, design.outcome, composite)
            a_pos = 0 if order == 0 else 1
            for member, (g, idx) in enumerate(((a, ia), (b, ib))):
                pos = a_pos if member == 0 else 1 - a_pos
                won = left_won if pos == 0 else 1 - left_won
                frames.append(_member_frame(ids, bases, order, comparison, "pair", 2, pos,
                                            g, idx, won, design.attributes, design.model))
    table = pd.concat(frames, ignore_index=True).sort_values(["tuple_id", "position"],
                                                             ignore_index=True)
    return table, truth


def _member_frame(ids: np.ndarray, bases: np.ndarray, order: int, comparison: str, kind: str,
                  k: int, position: int, group: GroupSpec, idx: np.ndarray, won: np.ndarray,
                  attributes: Sequence[str], model: str) -> pd.DataFrame:
    frame = pd.DataFrame({
        "tuple_id": ids, "base_id": bases, "order": order, "comparison": comparison,
        "kind": kind, "k": k, "layout": "horizontal", "scaling": "none", "scaling_size": 0,
        "position": position, "image_id": [f"{group.label}-{i:04d}" for i in idx],
        "group": group.label, "won": np.asarray(won).astype(bool), "model": model,
    })
    for name, value in zip(attributes, group.values, strict=True):
        frame[name] = value
    return frame


@dataclass(frozen=True)
class TogetherDesign:
    """k-way tuples (one image per group), each draw shown in all k cyclic rotations."""

    groups: tuple[GroupSpec, ...]
    attributes: tuple[str, ...]
    draws: int
    image_sd: float = 0.5
    outcome: Outcome = "bt"
    position_weights: tuple[float, ...] = (1.0, 1.5, 1.5, 1.0)  # middle preferred
    model: str = "simulated"


def simulate_together(design: TogetherDesign, seed: int) -> pd.DataFrame:
    """Outcomes table of k-way tuples: P(member at position j wins) ∝ w[j]·exp(s + u)."""
    rng = np.random.default_rng(seed)
    groups = design.groups
    k = len(groups)
    comparison = COMPARISON_SEP.join(g.label for g in groups)
    effects = [rng.normal(0, design.image_sd, g.images) for g in groups]
    idx = np.column_stack([rng.integers(0, g.images, design.draws) for g in groups])
    strength = np.column_stack([g.strength + effects[j][idx[:, j]]
                                for j, g in enumerate(groups)])
    log_w = np.log(np.asarray(design.position_weights, dtype=float))
    bases = np.arange(design.draws)
    frames = []
    for r in range(k):
        members = np.roll(np.arange(k), -r)  # position -> canonical member
        utility = strength[:, members] + log_w[None, :]
        if design.outcome == "bt":
            prob = np.exp(utility) / np.exp(utility).sum(axis=1, keepdims=True)
            winner = (prob.cumsum(axis=1) < rng.random((design.draws, 1))).sum(axis=1)
        else:  # the same composite always has the same winner (Gumbel noise per composite)
            keys = [tuple(row) for row in idx[:, members]]
            table: dict[tuple[int, ...], np.ndarray] = {}
            noise = np.stack([table.setdefault(key, rng.gumbel(size=k)) for key in keys])
            winner = np.argmax(utility + noise, axis=1)
        ids = bases + r * design.draws
        for pos, j in enumerate(members):
            frames.append(_member_frame(ids, bases, r, comparison, "together", k, pos,
                                        groups[j], idx[:, j], winner == pos, design.attributes,
                                        design.model))
    return pd.concat(frames, ignore_index=True).sort_values(["tuple_id", "position"],
                                                            ignore_index=True)


@dataclass(frozen=True)
class CropperPairDesign:
    """Two croppers on the same pair tuples whose per-image preferences correlate.

    Cropper 1 sees image effects u, cropper 2 sees rho·u + √(1 − rho²)·v (v independent, same
    sd): the croppers agree on which images they like to a degree rho, and have the same
    population Δ (both 0 with the default strengths).
    """

    pair: PairDesign
    correlation: float = 0.7
    strength_second: tuple[float, ...] | None = None  # default: the first cropper's
    names: tuple[str, str] = ("first", "second")


def simulate_two_croppers(design: CropperPairDesign, seed: int) -> pd.DataFrame:
    """One row per (cropper, pair tuple), the input of :func:`compare_croppers`."""
    from cropaudit.stats.croppers import PAIR_COLUMNS

    pair = design.pair
    rng = np.random.default_rng(seed)
    rho = design.correlation
    first = [rng.normal(0, pair.image_sd, g.images) for g in pair.groups]
    second = [rho * u + np.sqrt(1 - rho**2) * rng.normal(0, pair.image_sd, len(u))
              for u in first]
    strengths = (tuple(g.strength for g in pair.groups),
                 design.strength_second or tuple(g.strength for g in pair.groups))
    rows = []
    tuple_id = 0
    for (ia_g, a), (ib_g, b) in combinations(enumerate(pair.groups), 2):
        comparison = f"{a.label}{COMPARISON_SEP}{b.label}"
        ia = rng.integers(0, a.images, pair.bases)
        ib = rng.integers(0, b.images, pair.bases)
        for order in (0, 1) if pair.both_orders else (0,):
            ids = np.arange(tuple_id, tuple_id + pair.bases)
            tuple_id += pair.bases
            composite = (ia * b.images + ib) * 2 + order
            for name, effects, s in zip(design.names, (first, second), strengths, strict=True):
                d = (s[ia_g] + effects[ia_g][ia]) - (s[ib_g] + effects[ib_g][ib])
                sign = 1 if order == 0 else -1
                left_won = _draw_winner(rng, pair.position + sign * d, pair.outcome, composite)
                a_won = left_won if order == 0 else 1 - left_won
                rows.append(pd.DataFrame({
                    "cropper": name, "comparison": comparison, "tuple_id": ids,
                    "image_a": [f"{a.label}-{i:04d}" for i in ia],
                    "image_b": [f"{b.label}-{i:04d}" for i in ib],
                    "group_a": a.label, "group_b": b.label, "a_won": a_won,
                }))
    return pd.concat(rows, ignore_index=True)[list(PAIR_COLUMNS)]
