"""Groups as attribute values, and what follows from them: panels, short labels, pooling.

A group label is its attribute values joined by ``_`` in the configured attribute order
(``black_female`` for attributes ``race, gender``). Comparisons are classified by which
attributes differ (the paper's Race / Gender / Cross panels), and aggregates pool every
comparison whose groups differ in one attribute as configured (e.g. black vs white).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cropaudit.contracts import COMPARISON_SEP
from cropaudit.errors import InputFileError
from cropaudit.stats.params import AggregateParams, PoolingMode

#: separator of attribute values inside a group label (data contract)
LABEL_SEP = "_"
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


def parse_group(label: str, attribute_names: Sequence[str]) -> Group:
    """Split ``black_female`` into its attributes; the count of parts must match the names."""
    parts = label.split(LABEL_SEP)
    if len(parts) != len(attribute_names):
        raise InputFileError(
            f"group {label!r} does not have one value per attribute {list(attribute_names)} "
            f"(joined by {LABEL_SEP!r})"
        )
    return Group(label, tuple(zip(attribute_names, parts, strict=True)))


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
