"""Drawing the tuples the saliency model is shown: which images, in which order, how joined.

For every comparison (a pair of groups, or all groups at once) ``n`` tuples are drawn: one
random image per group, with replacement across tuples, like the paper. Each comparison draws
from its own random stream derived from the master seed and the comparison's name, so adding
or removing a comparison leaves the others' tuples unchanged.

Members are placed in the comparison's canonical order (first group left or top), as the
original audit did. Position matters to a saliency model, so with ``both_orders`` every pair
is also shown in reverse order: each group of a pair then appears equally often on each side,
and the statistics can separate a position effect from a group effect.

For the k-way "together" tuple, reversing is not enough: with k = 4 the 2nd and 3rd groups
would always sit in the middle, and a preference for middle positions would read as a group
effect. ``together_orders`` therefore shows each drawn tuple in

* ``cyclic`` (default): the k cyclic rotations (a Latin square: every group at every position
  exactly once per draw; k composites per draw);
* ``all``: all k! orders (also balances which groups are neighbours; 24 composites per draw
  for k = 4);
* ``reverse``: as drawn and reversed (the former design: position and group stay confounded
  for k > 2; kept to reproduce old runs);
* ``canonical``: as drawn only (the paper's design).

``order`` numbers the arrangement within its scheme (0 = canonical). For k = 2 rotation 1,
permutation 1 and "reversed" are the same arrangement, so pairs keep order 0/1 = as drawn /
reversed whatever the scheme.

The result is the pairs table of docs/data-contracts.md: one row per member, with the
composite geometry from :mod:`cropaudit.geometry.placement`.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from cropaudit.contracts import COMPARISON_SEP
from cropaudit.errors import ConfigError
from cropaudit.geometry.placement import compose
from cropaudit.stages.params import SamplingParams as SamplingParams


@dataclass(frozen=True)
class Comparison:
    """Groups shown together, in canonical (configured) order."""

    groups: tuple[str, ...]
    kind: Literal["pair", "together"]

    @property
    def name(self) -> str:
        return COMPARISON_SEP.join(self.groups)


def resolve_groups(params: SamplingParams, available: Sequence[str]) -> list[str]:
    """The configured groups in canonical order, checked against the dataset's groups."""
    present = set(available)
    if not params.groups:
        return sorted(present)
    unknown = [g for g in params.groups if g not in present]
    if unknown:
        raise ConfigError(
            f"sampling.groups: unknown group {unknown[0]!r} "
            f"(dataset has {', '.join(sorted(present))})"
        )
    if len(set(params.groups)) != len(params.groups):
        raise ConfigError("sampling.groups: groups must not repeat")
    return list(params.groups)


def comparisons_for(params: SamplingParams, groups: Sequence[str]) -> list[Comparison]:
    """Every configured comparison, pairs first, then the all-groups tuple."""
    order = {g: i for i, g in enumerate(groups)}
    out: list[Comparison] = []
    if params.pairs == "all":
        out += [Comparison((a, b), "pair") for a, b in itertools.combinations(groups, 2)]
    elif isinstance(params.pairs, list):
        for item in params.pairs:
            a, b = item.split(COMPARISON_SEP)
            for g in (a, b):
                if g not in order:
                    raise ConfigError(
                        f"sampling.pairs: unknown group {g!r} in {item!r} "
                        f"(groups: {', '.join(groups)})"
                    )
            out.append(Comparison(tuple(sorted((a, b), key=order.__getitem__)), "pair"))
    if params.together and len(groups) > 2:
        out.append(Comparison(tuple(groups), "together"))
    names = [c.name for c in out]
    if len(set(names)) != len(names):
        raise ConfigError("sampling.pairs: a comparison is listed twice")
    if not out:
        raise ConfigError("sampling: no comparisons (set pairs, or together with > 2 groups)")
    return out


def arrangements(k: int, kind: Literal["pair", "together"], params: SamplingParams
                 ) -> list[tuple[int, ...]]:
    """Member orders a drawn tuple is shown in; index = the ``order`` column, 0 = canonical.

    Pairs: (0, 1) and, with ``both_orders``, (1, 0). Together tuples: ``together_orders``.
    """
    identity = tuple(range(k))
    if kind == "pair":
        return [identity, identity[::-1]] if params.both_orders else [identity]
    scheme = params.together_orders
    if scheme == "canonical":
        return [identity]
    if scheme == "reverse":
        return [identity, identity[::-1]]
    if scheme == "cyclic":
        return [identity[r:] + identity[:r] for r in range(k)]
    return list(itertools.permutations(identity))


def comparison_rng(seed: int, comparison: Comparison) -> np.random.Generator:
    """A random stream of its own for each comparison (stable across Python runs)."""
    return np.random.default_rng([seed, zlib.crc32(comparison.name.encode("utf-8"))])


def sample_pairs(table: pd.DataFrame, params: SamplingParams, seed: int) -> pd.DataFrame:
    """The pairs table for a dataset table (see docs/data-contracts.md)."""
    groups = resolve_groups(params, table["group"].astype(str).unique().tolist())
    comparisons = comparisons_for(params, groups)
    by_group = {
        g: list(
            table.loc[table["group"] == g, ["image_id", "width", "height"]].itertuples(
                index=False, name=None
            )
        )
        for g in groups
    }
    scaling_size = 0 if params.scaling == "none" else params.scaling_size
    background = "#{:02x}{:02x}{:02x}".format(*params.background)

    rows: list[dict[str, object]] = []
    tuple_id = 0
    base_id = 0
    for comparison in comparisons:
        rng = comparison_rng(seed, comparison)
        k = len(comparison.groups)
        for _ in range(params.n):
            members = [
                (g, *by_group[g][int(rng.integers(0, len(by_group[g])))])
                for g in comparison.groups
            ]
            orders = [[members[i] for i in a]
                      for a in arrangements(k, comparison.kind, params)]
            for order, sequence in enumerate(orders):
                geometry = compose(
                    [(int(w), int(h)) for _, _, w, h in sequence],
                    layout=params.layout, scaling=params.scaling,
                    scaling_size=scaling_size, padding=params.padding,
                )
                placed = zip(sequence, geometry.placements, strict=True)
                for position, ((group, image_id, _, _), p) in enumerate(placed):
                    rows.append({
                        "tuple_id": tuple_id, "base_id": base_id, "order": order,
                        "comparison": comparison.name, "kind": comparison.kind, "k": k,
                        "layout": params.layout, "scaling": params.scaling,
                        "scaling_size": scaling_size, "padding": params.padding,
                        "background": background,
                        "composite_width": geometry.width, "composite_height": geometry.height,
                        "position": position, "image_id": str(image_id),
                        "group": group,
                        "x": p.x, "y": p.y, "width": p.width, "height": p.height,
                        "scale": p.scale,
                    })
                tuple_id += 1
            base_id += 1
    return pd.DataFrame(rows)
