"""Seeded simulation of saliency outcome tables (docs/data-contracts.md), for tests.

Who holds the salient point follows a Bradley–Terry model with a position term:
logit P(left wins) = position_effect + (s[left group] + u[left image]) − (s[right] + u[right]),
where u ~ N(0, image_sd²) is a per-image effect (what makes image reuse matter). Saliency
scores are the image's latent strength plus noise, so score distributions differ by group too.
The salient point lies at the centre of the winning member's box (consistent with ``won``).

Together tuples: P(member at position j wins) ∝ w[j]·exp(s[group] + u[image]), with
``together_position_weights`` w (e.g. 1 : 1.5 : 1.5 : 1, a preference for the middle), each
drawn tuple shown in the arrangements of ``together_orders`` (as in sampling).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations

import numpy as np
import pandas as pd

GROUPS = ("black_female", "black_male", "white_female", "white_male")
#: the attribute values of the simulated groups, as the dataset table carries them (the
#: statistics never split a label on "_")
ATTRIBUTES = ("race", "gender")
GROUP_VALUES = {
    "black_female": ("black", "female"), "black_male": ("black", "male"),
    "white_female": ("white", "female"), "white_male": ("white", "male"),
}


def simulated_groups(groups=GROUPS):
    """label -> Group for :func:`cropaudit.stats.audit.audit`."""
    from cropaudit.stats.groups import Group

    return {g: Group(g, tuple(zip(ATTRIBUTES, GROUP_VALUES[g], strict=True))) for g in groups}


def simulate_outcomes(
    seed: int,
    *,
    groups: Sequence[str] = GROUPS,
    strength: Mapping[str, float] | None = None,
    images_per_group: int = 40,
    bases_per_comparison: int = 400,
    both_orders: bool = True,
    position_effect: float = 0.0,
    image_sd: float = 0.0,
    together_tuples: int = 0,
    together_orders: str = "cyclic",
    together_position_weights: Sequence[float] | None = None,
    model: str = "fastgaze",
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    strength = dict(strength or {})
    s = {g: strength.get(g, 0.0) for g in groups}
    images = {g: [f"{g}-{i:04d}" for i in range(images_per_group)] for g in groups}
    u = {g: rng.normal(0, image_sd, images_per_group) if image_sd else np.zeros(images_per_group)
         for g in groups}
    rows: list[pd.DataFrame] = []
    tuple_id = 0
    base_id = 0
    for ga, gb in combinations(groups, 2):
        comparison = f"{ga}~{gb}"
        ia = rng.integers(0, images_per_group, bases_per_comparison)
        ib = rng.integers(0, images_per_group, bases_per_comparison)
        bases = np.arange(base_id, base_id + bases_per_comparison)
        base_id += bases_per_comparison
        for order in (0, 1) if both_orders else (0,):
            ids = np.arange(tuple_id, tuple_id + bases_per_comparison)
            tuple_id += bases_per_comparison
            strength_a = s[ga] + u[ga][ia]
            strength_b = s[gb] + u[gb][ib]
            left_minus_right = strength_a - strength_b if order == 0 else strength_b - strength_a
            p_left = 1 / (1 + np.exp(-(position_effect + left_minus_right)))
            left_won = rng.random(bases_per_comparison) < p_left
            a_pos = 0 if order == 0 else 1
            winner_pos = np.where(left_won, 0, 1)
            for member, (g, idx, st) in enumerate(((ga, ia, strength_a), (gb, ib, strength_b))):
                pos = a_pos if member == 0 else 1 - a_pos
                won = left_won if pos == 0 else ~left_won
                rows.append(_members(ids, bases, order, comparison, "pair", 2, pos,
                                     [images[g][i] for i in idx], g, won, st, rng, model,
                                     winner_pos))
    if together_tuples:
        rows += _together(rng, groups, images, s, u, images_per_group, together_tuples,
                          together_orders, together_position_weights, tuple_id, base_id, model)
    out = pd.concat(rows, ignore_index=True).sort_values(["tuple_id", "position"],
                                                         ignore_index=True)
    for i, attribute in enumerate(ATTRIBUTES):  # carried as columns, as from the dataset
        out[attribute] = out["group"].map({g: v[i] for g, v in GROUP_VALUES.items()})
    return out


def _together(rng, groups, images, s, u, images_per_group, bases_n, orders, weights, tuple_id,
              base_id, model) -> list[pd.DataFrame]:
    from itertools import permutations

    comparison = "~".join(groups)
    k = len(groups)
    identity = tuple(range(k))
    arrangements = {
        "cyclic": [identity[r:] + identity[:r] for r in range(k)],
        "all": list(permutations(identity)),
        "reverse": [identity, identity[::-1]],
        "canonical": [identity],
    }[orders]
    log_w = np.log(np.asarray(weights if weights is not None else np.ones(k), dtype=float))
    idx = rng.integers(0, images_per_group, (bases_n, k))  # canonical member j: group j
    st = np.column_stack([s[g] + u[g][idx[:, j]] for j, g in enumerate(groups)])
    bases = np.arange(base_id, base_id + bases_n)
    rows = []
    for order, arrangement in enumerate(arrangements):
        ids = np.arange(tuple_id, tuple_id + bases_n)
        tuple_id += bases_n
        members = np.asarray(arrangement)  # position -> canonical member
        utility = st[:, members] + log_w[None, :]
        prob = np.exp(utility) / np.exp(utility).sum(axis=1, keepdims=True)
        winner_pos = (prob.cumsum(axis=1) < rng.random((bases_n, 1))).sum(axis=1)
        for pos, j in enumerate(members):
            g = groups[j]
            rows.append(_members(ids, bases, order, comparison, "together", k, pos,
                                 [images[g][i] for i in idx[:, j]], g, winner_pos == pos,
                                 st[:, j], rng, model, winner_pos))
    return rows


def _members(ids, bases, order, comparison, kind, k, position, image_ids, group, won, latent,
             rng, model, winner_pos) -> pd.DataFrame:
    n = len(ids)
    size = 256
    score = 0.5 + 0.1 * latent + rng.normal(0, 0.05, n)
    return pd.DataFrame(
        {
            "tuple_id": ids, "base_id": bases, "order": order, "comparison": comparison,
            "kind": kind, "k": k, "layout": "horizontal", "scaling": "none", "scaling_size": 0,
            "padding": 0, "composite_width": size * k, "composite_height": size,
            "position": position, "image_id": image_ids, "group": group,
            "x": position * size, "y": 0, "width": size, "height": size, "scale": 1.0,
            "model": model, "salient_x": np.asarray(winner_pos) * size + size // 2,
            "salient_y": size // 2, "won": np.asarray(won, dtype=bool),
            "score_max": score + 0.3, "score_p95": score + 0.2, "score_p50": score,
            "score_mean": score - 0.05,
        }
    )
