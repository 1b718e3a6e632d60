"""Groups as attribute values, and what follows from them: panels, short labels, pooling.

A group is a label (``black_female``, built by ``prepare-data``) *and* its attribute values,
which travel as columns from the dataset table onwards (:func:`groups_from_table`). The label
is never split back into values: values may contain ``_`` themselves (FairFace's
``latino_hispanic``, ``east_asian``), so ``latino_hispanic_male`` has three parts for two
attributes. Comparisons are classified by which attributes differ (the paper's Race /
Gender / Cross panels), and aggregates pool every comparison whose groups differ in one
attribute as configured (e.g. black vs white).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from cropaudit.contracts import COMPARISON_SEP
from cropaudit.errors import InputFileError
from cropaudit.stats.params import AggregateParams, PoolingMode

if TYPE_CHECKING:
    import pandas as pd

#: panel title of comparisons whose groups differ in more than one attribute
CROSS_PANEL = "Cross"
AGGREGATE_PANEL = "Aggregate"


@dataclass(frozen=True)
class Group:
    """One demographic group: its label and its attribute values (name -> value)."""

    label: str
    attributes: tuple[tuple[str, str], ...]

    def value(self, attribute: str) -> str | None:
        return dict(self.attributes).get(attribute)


#: group label -> its Group (attribute values in the configured attribute order)
Groups = Mapping[str, Group]


def groups_from_table(table: pd.DataFrame, attributes: Sequence[str], *,
                      source: str = "table") -> dict[str, Group]:
    """Each group's attribute values, read from the columns of a table that carries them
    (the dataset table, an outcomes table with the attribute columns, ``groups.csv``).

    One-line errors when an attribute column is missing or a group has two values of one
    attribute (then its label does not name one group).
    """
    missing = [a for a in ["group", *attributes] if a not in table.columns]
    if missing:
        raise InputFileError(
            f"{source}: no column {missing[0]!r}: the group attributes "
            f"{list(attributes)} (dataset.groups.attributes) must be columns of it")
    values = table[["group", *attributes]].astype(str).drop_duplicates()
    repeated = values[values["group"].duplicated(keep=False)]
    if len(repeated):
        label = repeated["group"].iloc[0]
        rows = repeated[repeated["group"] == label]
        attribute = next(a for a in attributes if rows[a].nunique() > 1)
        raise InputFileError(
            f"{source}: group {label!r} has several values of {attribute!r} "
            f"({', '.join(repr(v) for v in sorted(rows[attribute].unique()))}): its label "
            "must stand for one combination of attribute values")
    return {
        str(r[0]): Group(str(r[0]), tuple(zip(attributes, map(str, r[1:]), strict=True)))
        for r in values.itertuples(index=False, name=None)
    }


def groups_table(groups: Groups) -> pd.DataFrame:
    """``group`` plus one column per attribute (``groups.csv``, read by ``plots``)."""
    import pandas as pd

    return pd.DataFrame([{"group": g.label, **dict(g.attributes)} for g in groups.values()])


def group_of(groups: Groups, label: str, source: str = "outcomes") -> Group:
    """The group with this label; a one-line error when the outcomes name an unknown one."""
    try:
        return groups[label]
    except KeyError:
        raise InputFileError(
            f"{source}: group {label!r} is not in the group table (pass the dataset table "
            "the pairs were drawn from)") from None


def split_comparison(comparison: str) -> list[str]:
    """Group labels of a comparison name in canonical order."""
    return comparison.split(COMPARISON_SEP)


def join_comparison(labels: Sequence[str]) -> str:
    return COMPARISON_SEP.join(labels)


def panel_of(a: Group, b: Group) -> str:
    """Race / Gender / ... when one attribute differs, Cross when several do."""
    names = [n for n, _ in a.attributes if b.value(n) is not None]
    differing = [n for n in names if a.value(n) != b.value(n)]
    if len(differing) == 1:
        return differing[0].capitalize()
    return CROSS_PANEL


def short_labels(groups: Sequence[Group]) -> dict[str, str]:
    """Paper-style abbreviations (``BF`` for black_female) when they are unambiguous.

    Each attribute value is shortened to its initial; if two different values of an attribute
    share an initial, that attribute keeps its full value, so a label is never ambiguous.
    """
    values: dict[str, set[str]] = {}
    for g in groups:
        for name, value in g.attributes:
            values.setdefault(name, set()).add(value)
    short_ok = {
        name: len({v[:1].upper() for v in vals}) == len(vals) for name, vals in values.items()
    }
    out = {}
    for g in groups:
        parts = [v[:1].upper() if short_ok[n] else v for n, v in g.attributes]
        sep = "" if all(short_ok[n] for n, _ in g.attributes) else " "
        out[g.label] = sep.join(parts)
    return out


def abbreviation_legend(groups: Sequence[Group]) -> str:
    """``B=Black, W=White, F=Female, M=Male`` for figure titles ('' when labels are not short)."""
    if any(" " in s for s in short_labels(groups).values()):
        return ""
    by_attribute: dict[str, list[str]] = {}
    for g in groups:
        for name, v in g.attributes:
            values = by_attribute.setdefault(name, [])
            if v not in values:
                values.append(v)
    return ", ".join(
        f"{v[0].upper()}={v.capitalize()}" for vs in by_attribute.values() for v in sorted(vs)
    )


def value_abbreviation(values: Sequence[str]) -> dict[str, str]:
    """Initials of attribute values when unambiguous (aggregate labels ``B↔W``), else values."""
    initials = {v[:1].upper() for v in values}
    if len(initials) == len(set(values)):
        return {v: v[:1].upper() for v in values}
    return {v: v for v in values}


@dataclass(frozen=True)
class PoolMember:
    """One comparison inside an aggregate; ``flipped`` = stored as second-vs-first."""

    comparison: str
    flipped: bool


def pool_members(
    comparisons: Sequence[tuple[str, Group, Group]],
    aggregate: AggregateParams,
    mode: PoolingMode,
) -> list[PoolMember]:
    """The comparisons an aggregate pools, with orientation.

    ``consistent`` takes every comparison whose two groups are ``first`` and ``second`` of the
    attribute, in either stored order (flipping p where stored second-first). The paper pooled
    only comparisons stored first-vs-second, silently dropping e.g. black_male~white_female
    from its female-vs-male aggregate; ``paper-compatible`` reproduces that.
    """
    members = []
    for name, a, b in comparisons:
        va, vb = a.value(aggregate.attribute), b.value(aggregate.attribute)
        if (va, vb) == (aggregate.first, aggregate.second):
            members.append(PoolMember(name, False))
        elif (va, vb) == (aggregate.second, aggregate.first) and mode == "consistent":
            members.append(PoolMember(name, True))
    return members


def describe_members(members: Sequence[PoolMember]) -> str:
    """``a~b;(c~d reversed)`` for tables: which comparisons an aggregate pooled, and how."""
    return ";".join(f"{m.comparison} (reversed)" if m.flipped else m.comparison for m in members)
