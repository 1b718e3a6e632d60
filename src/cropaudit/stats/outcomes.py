"""The saliency outcomes table (docs/data-contracts.md) seen as tuples, one row each.

The outcomes table has one row per *member* of a composite. Statistics need one row per
*tuple*: which comparison, which image of each group, which one held the salient point, and
which was on the left. Members are put back in the comparison's canonical order: every group
appears once per tuple, so a member's canonical index is its group's place in ``comparison``.
That is checked against the design: ``order`` 0 is the canonical order; a pair with ``order``
1 is reversed; a k-way tuple with any other ``order`` is one arrangement of the sampling
scheme (``sampling.together_orders``) and must hold each of the k groups exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from cropaudit.errors import InputFileError
from cropaudit.stats.groups import split_comparison

REQUIRED = ("tuple_id", "base_id", "order", "comparison", "kind", "k", "position", "image_id",
            "group", "won")
SCORES = ("score_max", "score_p95", "score_p50", "score_mean")
#: columns that define a setting; stats are computed per setting if a table mixes several
SETTING_COLUMNS = ("model", "layout", "scaling", "scaling_size")


def check_columns(df: pd.DataFrame, source: str, needed: Sequence[str] = REQUIRED) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise InputFileError(
            f"{source}: missing column {missing[0]!r} (see docs/data-contracts.md)"
        )


def with_setting(df: pd.DataFrame) -> pd.DataFrame:
    """Add a ``setting`` column (``model=fastgaze layout=horizontal ...``) from what is present."""
    cols = [c for c in SETTING_COLUMNS if c in df.columns]
    out = df.copy()
    setting = pd.Series("", index=out.index, dtype=object)
    for i, c in enumerate(cols):
        setting = setting + ("" if i == 0 else " ") + f"{c}=" + out[c].astype(str)
    out["setting"] = setting
    return out


def _canonical_index(df: pd.DataFrame, source: str) -> pd.Series:
    """Member's index in the comparison's canonical order; verified against the design."""
    k = df["k"].astype(int)
    pos = df["position"].astype(int)
    order = df["order"].astype(int)
    if (order < 0).any():
        raise InputFileError(f"{source}: column 'order' must be 0 or more")
    if ((pos < 0) | (pos >= k)).any():
        raise InputFileError(f"{source}: column 'position' outside 0..k-1")
    groups_by_cmp = {c: split_comparison(c) for c in df["comparison"].unique()}
    bad_k = [
        c for c, g in groups_by_cmp.items() if (df.loc[df["comparison"] == c, "k"] != len(g)).any()
    ]
    if bad_k:
        raise InputFileError(f"{source}: comparison {bad_k[0]!r} does not list k groups")
    place = {c: {g: i for i, g in enumerate(gs)} for c, gs in groups_by_cmp.items()}
    idx = pd.Series([place[c].get(g, -1) for c, g in zip(df["comparison"], df["group"],
                                                         strict=True)], index=df.index)
    pair = k == 2
    if (pair & (order > 1)).any():
        raise InputFileError(f"{source}: column 'order' must be 0 or 1 for pairs")
    # where the design fixes the arrangement, the member's group must be the expected one
    fixed = (order == 0) | pair
    expected = pos.where(order == 0, k - 1 - pos)
    wrong = (idx < 0) | (fixed & (idx != expected))
    duplicated = df.assign(_idx=idx).duplicated(["tuple_id", "_idx"])
    wrong |= duplicated.to_numpy()
    if wrong.any():
        row = df.loc[wrong].iloc[0]
        raise InputFileError(
            f"{source}: tuple {row['tuple_id']}: member at position {row['position']} with "
            f"order {row['order']} is group {row['group']!r}, comparison says otherwise"
        )
    return idx


def _check_tuples(df: pd.DataFrame, source: str) -> None:
    size = df.groupby("tuple_id").size()
    k = df.groupby("tuple_id")["k"].first()
    if (size != k).any():
        raise InputFileError(f"{source}: tuple {size[size != k].index[0]} does not have k rows")
    wins = df.groupby("tuple_id")["won"].sum()
    if (wins != 1).any():
        raise InputFileError(
            f"{source}: tuple {wins[wins != 1].index[0]} has {int(wins[wins != 1].iloc[0])} "
            "winners (exactly one member holds the salient point)"
        )


def pair_tuples(outcomes: pd.DataFrame, source: str = "outcomes") -> pd.DataFrame:
    """One row per pair tuple.

    Columns: setting, comparison, tuple_id, base_id, order, group_a, group_b, image_a,
    image_b (image ids), a_won (1 if the first listed group's image held the point),
    left_won (1 if the left/top member did), left_group, right_group.
    """
    check_columns(outcomes, source)
    df = with_setting(outcomes[outcomes["kind"] == "pair"])
    cols = ["setting", "comparison", "tuple_id", "base_id", "order", "group_a", "group_b",
            "image_a", "image_b", "a_won", "left_won", "left_group", "right_group"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.assign(won=df["won"].astype(bool).astype(int))
    _check_tuples(df, source)
    df = df.assign(idx=_canonical_index(df, source).to_numpy())
    a = df[df["idx"] == 0].set_index("tuple_id")
    b = df[df["idx"] == 1].set_index("tuple_id")
    b = b.loc[a.index]
    left = df[df["position"] == 0].set_index("tuple_id").loc[a.index]
    right = df[df["position"] == 1].set_index("tuple_id").loc[a.index]
    out = pd.DataFrame(
        {
            "setting": a["setting"],
            "comparison": a["comparison"],
            "tuple_id": a.index,
            "base_id": a["base_id"].astype(int),
            "order": a["order"].astype(int),
            "group_a": a["group"],
            "group_b": b["group"],
            "image_a": a["image_id"].astype(str),
            "image_b": b["image_id"].astype(str),
            "a_won": a["won"].astype(int),
            "left_won": left["won"].astype(int),
            "left_group": left["group"],
            "right_group": right["group"],
        }
    )
    return out.reset_index(drop=True)[cols]


def together_counts(outcomes: pd.DataFrame, source: str = "outcomes") -> pd.DataFrame:
    """Wins per group in k-way "together" tuples: setting, comparison, group, count (all groups)."""
    check_columns(outcomes, source)
    df = with_setting(outcomes[outcomes["kind"] == "together"])
    if df.empty:
        return pd.DataFrame(columns=["setting", "comparison", "group", "count"])
    df = df.assign(won=df["won"].astype(bool).astype(int))
    _check_tuples(df, source)
    _canonical_index(df, source)
    rows = []
    for (setting, comparison), d in df.groupby(["setting", "comparison"], sort=True):
        wins = d.groupby("group")["won"].sum()
        for g in split_comparison(comparison):
            rows.append({"setting": setting, "comparison": comparison, "group": g,
                         "count": int(wins.get(g, 0))})
    return pd.DataFrame(rows)


def together_members(outcomes: pd.DataFrame, source: str = "outcomes") -> pd.DataFrame:
    """Members of k-way "together" tuples, one row each, checked against the design.

    Columns: setting, comparison, tuple_id, base_id, order, k, position, group, group_index
    (canonical place of the group in ``comparison``), image_id, won (0/1).
    """
    check_columns(outcomes, source)
    cols = ["setting", "comparison", "tuple_id", "base_id", "order", "k", "position", "group",
            "group_index", "image_id", "won"]
    df = with_setting(outcomes[outcomes["kind"] == "together"])
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.assign(won=df["won"].astype(bool).astype(int))
    _check_tuples(df, source)
    df = df.assign(group_index=_canonical_index(df, source).to_numpy(),
                   image_id=df["image_id"].astype(str))
    return df.sort_values(["tuple_id", "position"]).reset_index(drop=True)[cols]


def image_scores(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Per (setting, group, image_id): mean of each score column over the image's appearances.

    An image appears in many composites; averaging per image keeps one value per independent
    unit, so rank tests between groups are not inflated by image reuse.
    """
    present = [c for c in SCORES if c in outcomes.columns]
    if not present:
        return pd.DataFrame(columns=["setting", "group", "image_id"])
    df = with_setting(outcomes)
    return df.groupby(["setting", "group", "image_id"], as_index=False)[present].mean()
