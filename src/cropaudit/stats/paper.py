"""The paper's own raw counts (``data/results.txt`` of twitter-research/image-crop-analysis).

Each line is a Python dict literal such as::

    {'group_name_list': (('black', 'female'), ('white', 'male')), 'stats': array([5547., 4453.]),
     'num_iterations': 10000, 'setting': 'wiki_no_scaling_intersect'}

written by ``print(dict)`` in the original notebooks, so it contains ``array([...])`` and
``dict_keys([...])`` calls. It is parsed with :mod:`ast` and only those two call names are
accepted around literals: the file is data and is never evaluated. Any other line is reported
with its line number.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cropaudit.errors import InputFileError
from cropaudit.stats.counts import ComparisonCounts
from cropaudit.stats.groups import Group, join_comparison

#: attribute of each group value the paper uses (its groups are tuples of race and gender)
PAPER_ATTRIBUTES: dict[str, str] = {
    "asian": "race",
    "black": "race",
    "white": "race",
    "indian": "race",
    "latino": "race",
    "female": "gender",
    "male": "gender",
}
#: call names print() leaves around literals in results.txt; nothing else is accepted
_WRAPPERS = {"array", "dict_keys", "tuple", "list"}
_KEYS = ("group_name_list", "stats", "num_iterations", "setting")


@dataclass(frozen=True)
class PaperEntry:
    """One line of results.txt: ``counts[i]`` tuples in which ``groups[i]`` held the point."""

    line: int
    setting: str
    n: int
    groups: tuple[Group, ...]
    counts: tuple[int, ...]

    @property
    def kind(self) -> str:
        return "pair" if len(self.groups) == 2 else "together"

    @property
    def comparison(self) -> str:
        return join_comparison([g.label for g in self.groups])


def paper_group(name: object) -> Group:
    """('black', 'female') -> Group black_female with race=black, gender=female."""
    values = (name,) if isinstance(name, str) else (
        tuple(name) if isinstance(name, Iterable) else ()
    )
    if not values or not all(isinstance(v, str) and v for v in values):
        raise ValueError(f"group name {name!r} is not a string or a tuple of strings")
    attrs = tuple((PAPER_ATTRIBUTES.get(v, f"attribute{i + 1}"), v) for i, v in enumerate(values))
    return Group("_".join(values), attrs)


def _literal(node: ast.AST) -> object:
    """literal_eval that also unwraps ``array([...])`` / ``dict_keys([...])`` calls."""
    if isinstance(node, ast.Call):
        if (
            isinstance(node.func, ast.Name)
            and node.func.id in _WRAPPERS
            and len(node.args) == 1
            and not node.keywords
        ):
            return _literal(node.args[0])
        raise ValueError("only array(...) and dict_keys(...) calls are allowed")
    if isinstance(node, ast.List | ast.Tuple):
        return [_literal(e) for e in node.elts]
    return ast.literal_eval(node)


def parse_line(text: str) -> dict[str, object]:
    """The dict of one line (raises ValueError saying what is wrong)."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not a Python literal ({exc.msg})") from None
    if not isinstance(tree.body, ast.Dict):
        raise ValueError("not a dict literal")
    out: dict[str, object] = {}
    for k, v in zip(tree.body.keys, tree.body.values, strict=True):
        if k is None:
            raise ValueError("'**' is not allowed")
        key = ast.literal_eval(k)
        out[str(key)] = _literal(v)
    return out


def _entry(data: dict[str, object], line: int) -> PaperEntry:
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ValueError(f"missing key {missing[0]!r}")
    names = data["group_name_list"]
    counts = data["stats"]
    n = data["num_iterations"]
    setting = data["setting"]
    if not isinstance(setting, str) or not setting:
        raise ValueError("'setting' must be a non-empty string")
    if not isinstance(n, int) or isinstance(n, bool) or n <= 0:
        raise ValueError("'num_iterations' must be a positive integer")
    if not isinstance(names, list) or len(names) < 2:
        raise ValueError("'group_name_list' must list at least two groups")
    if not isinstance(counts, list) or len(counts) != len(names):
        raise ValueError("'stats' must have one count per group")
    if not all(isinstance(c, int | float) and float(c).is_integer() and c >= 0 for c in counts):
        raise ValueError("'stats' must hold non-negative whole counts")
    int_counts = tuple(int(c) for c in counts)
    if sum(int_counts) != n:
        raise ValueError(f"counts sum to {sum(int_counts)}, not num_iterations={n}")
    groups = tuple(paper_group(g) for g in names)
    if len({g.label for g in groups}) != len(groups):
        raise ValueError("a group is listed twice")
    return PaperEntry(line, setting, n, groups, int_counts)


def parse_results(path: str | os.PathLike[str]) -> list[PaperEntry]:
    """Every entry of a results file; a bad line raises InputFileError naming its number."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{p}: cannot read ({exc.__class__.__name__})") from None
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            entries.append(_entry(parse_line(line), number))
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError) as exc:
            raise InputFileError(f"{p}: line {number}: {exc}") from None
    if not entries:
        raise InputFileError(f"{p}: no entries")
    return entries


def available(entries: Sequence[PaperEntry]) -> dict[str, list[int]]:
    """setting -> sorted sample sizes present."""
    out: dict[str, set[int]] = {}
    for e in entries:
        out.setdefault(e.setting, set()).add(e.n)
    return {s: sorted(ns) for s, ns in sorted(out.items())}


def select(entries: Sequence[PaperEntry], setting: str, n: int | None = None) -> list[PaperEntry]:
    """Entries of one setting and sample size (the largest when ``n`` is None)."""
    avail = available(entries)
    if setting not in avail:
        raise InputFileError(f"setting {setting!r} not in results (have: {', '.join(avail)})")
    chosen = n if n is not None else avail[setting][-1]
    picked = [e for e in entries if e.setting == setting and e.n == chosen]
    if not picked:
        have = ", ".join(str(x) for x in avail[setting])
        raise InputFileError(f"setting {setting!r} has no entries with n={chosen} (have: {have})")
    return picked


def pair_counts(entries: Sequence[PaperEntry]) -> list[ComparisonCounts]:
    """The pairwise entries as comparison counts (one comparison must not appear twice)."""
    out: dict[str, ComparisonCounts] = {}
    for e in entries:
        if e.kind != "pair":
            continue
        if e.comparison in out:
            raise InputFileError(f"line {e.line}: comparison {e.comparison} repeats")
        out[e.comparison] = ComparisonCounts(
            e.comparison, e.groups[0], e.groups[1], e.counts[0], e.n
        )
    return list(out.values())
