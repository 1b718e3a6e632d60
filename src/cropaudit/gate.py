"""The release gate: does each cropper's clustered interval stay inside the allowed band?

A gate spec (YAML, :class:`GateSpec`) lists comparisons (Δ = p − parity of a pair or
aggregate comparison, e.g. ``marked_a~plain_a``) and disparities (a group's rate minus the
reference group's rate), each with an allowed band, in proportions (``0.05`` = 5 percentage
points). For every cropper of a results folder and every listed item, the audit's clustered
interval decides (see docs/api.md, "The gate"):

* **pass**: the interval lies inside the band;
* **fail**: the interval lies wholly outside the band;
* **insufficient evidence**: the interval crosses an edge of the band (the data cannot tell),
  or has fewer than ``min_effective_n`` effectively independent observations, or the
  statistics stage marked it insufficient or not estimable. The spec's ``insufficient:``
  says whether that fails the gate (``fail``, the default) or not (``pass``).

The intervals are read by :func:`read_intervals` alone: it is the one place that knows the
statistics tables' column names.
"""

from __future__ import annotations

import math
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from cropaudit.errors import ConfigError, InputFileError
from cropaudit.untrusted import terminal

if TYPE_CHECKING:
    import pandas as pd

#: Matches every comparison (or every non-reference value of a disparity level).
ANY = "*"
Kind = Literal["comparison", "disparity"]
Outcome = Literal["pass", "fail", "insufficient"]


def _band(value: Any) -> Any:
    """``0.05`` is shorthand for ``[-0.05, 0.05]``."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (-abs(value), abs(value))
    return value


class ComparisonRule(BaseModel):
    """One comparison (``first~second`` as in comparisons.csv, or ``*``) and its band for Δ."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="comparison as in comparisons.csv, or '*'")
    band: tuple[float, float] = Field(description="allowed Δ = p − parity: [low, high] or ±x")

    @field_validator("band", mode="before")
    @classmethod
    def _shorthand(cls, v: Any) -> Any:
        return _band(v)

    @field_validator("band")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not (math.isfinite(v[0]) and math.isfinite(v[1])) or v[0] > v[1]:
            raise ValueError("band must be [low, high] with low <= high")
        return v


class DisparityRule(ComparisonRule):
    """One value of a disparity level (``group`` by default; ``*`` for all) and its band for
    the difference from the reference value's rate."""

    name: str = Field(min_length=1, description="value (group label) in disparities.csv, or '*'")
    level: str = Field("group", min_length=1, description="level column: group or an attribute")


class GateSpec(BaseModel):
    """``audit-gate.yaml``: what the audit must show for a release to pass."""

    model_config = ConfigDict(extra="forbid")

    level: float = Field(0.95, gt=0, lt=1, description="confidence level of the intervals; "
                         "must be the audit's (1 − stats.alpha)")
    croppers: list[str] | None = Field(None, description="croppers to check (null: every one "
                                       "in the results)")
    min_effective_n: float = Field(0, ge=0, le=1e9, description="fewer effectively independent "
                                   "observations than this is insufficient evidence")
    insufficient: Literal["fail", "pass"] = Field("fail", description="what insufficient "
                                                  "evidence does to the gate")
    comparisons: list[ComparisonRule] = Field(default_factory=list)
    disparities: list[DisparityRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _something(self) -> GateSpec:
        if not self.comparisons and not self.disparities:
            raise ValueError("lists no comparisons and no disparities: it would check nothing")
        return self


def load_spec(source: str | os.PathLike[str] | Mapping[str, Any]) -> GateSpec:
    """A gate spec from a YAML file (read strictly, like params.yaml) or a mapping."""
    if isinstance(source, Mapping):
        data: Any = dict(source)
        where = "gate spec"
    else:
        from cropaudit.config import read_yaml_mapping

        path = Path(source)
        if not path.is_file():
            raise InputFileError(f"{path}: gate spec not found")
        data = read_yaml_mapping(path) or {}
        where = str(path)
    try:
        return GateSpec.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{where}: {loc + ': ' if loc else ''}{msg}") from None


def read_intervals(stats_dir: str | os.PathLike[str], kind: Kind) -> pd.DataFrame:
    """The intervals the gate judges, from one cropper's ``stats/`` folder.

    The only function that knows the statistics tables' columns. Returns one row per
    comparison (primary rows of ``comparisons.csv``) or per non-reference disparity value
    (``disparities.csv``) with: ``setting``, ``level``, ``name``, ``estimate`` (Δ or the
    difference from the reference), ``low``/``high`` (its clustered interval), ``n_effective``
    and ``note`` (why the statistics stage holds it insufficient, else empty).

    Columns read: comparisons.csv ``setting, comparison, primary, p, delta, ci_low, ci_high,
    n_effective, verdict`` (the interval is on p; Δ's is it shifted by parity = p − Δ);
    disparities.csv ``setting, level, value, diff, diff_low, diff_high, n_effective,
    evidence``.
    """
    import pandas as pd

    from cropaudit.contracts import read_stats_table

    folder = Path(stats_dir)
    if kind == "comparison":
        t = read_stats_table(folder / "comparisons.csv")
        _require(t, folder / "comparisons.csv", ("setting", "comparison", "p", "delta", "ci_low",
                                                 "ci_high", "n_effective"))
        if "primary" in t.columns:
            t = t[t["primary"].astype(str).str.lower() == "true"]
        parity = t["p"] - t["delta"]
        verdict = t["verdict"] if "verdict" in t.columns else pd.Series("", index=t.index)
        return pd.DataFrame({
            "setting": t["setting"], "level": "", "name": t["comparison"],
            "estimate": t["delta"], "low": t["ci_low"] - parity, "high": t["ci_high"] - parity,
            "n_effective": t["n_effective"],
            "note": verdict.where(verdict.isin(["not estimable"]), "").fillna(""),
        }).reset_index(drop=True)
    t = read_stats_table(folder / "disparities.csv")
    _require(t, folder / "disparities.csv", ("setting", "level", "value", "diff", "diff_low",
                                             "diff_high", "n_effective", "evidence"))
    t = t[t["evidence"] != "reference"]
    return pd.DataFrame({
        "setting": t["setting"], "level": t["level"], "name": t["value"],
        "estimate": t["diff"], "low": t["diff_low"], "high": t["diff_high"],
        "n_effective": t["n_effective"],
        "note": t["evidence"].where(t["evidence"].isin(["insufficient evidence",
                                                        "not estimable"]), "").fillna(""),
    }).reset_index(drop=True)


def _require(table: pd.DataFrame, path: Path, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputFileError(f"{path}: lacks columns {', '.join(missing)} (a table of another "
                             "cropaudit version? re-run the audit)")


@dataclass(frozen=True)
class Finding:
    """What the gate made of one listed item for one cropper."""

    cropper: str
    kind: Kind
    name: str
    level: str
    setting: str
    band: tuple[float, float]
    estimate: float
    low: float
    high: float
    n_effective: float
    outcome: Outcome
    reason: str

    @property
    def label(self) -> str:
        """``comparison marked_a~plain_a`` / ``disparity group plain_a`` (escaped)."""
        what = self.kind if self.kind == "comparison" else f"disparity {terminal(self.level)}"
        return f"{what} {terminal(self.name)}"


@dataclass(frozen=True)
class GateResult:
    """Every finding of one check, and whether the gate passed."""

    spec: GateSpec
    findings: tuple[Finding, ...]
    croppers: tuple[str, ...]

    def failed(self, finding: Finding) -> bool:
        return finding.outcome == "fail" or (finding.outcome == "insufficient"
                                             and self.spec.insufficient == "fail")

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if self.failed(f)]

    @property
    def passed(self) -> bool:
        return not self.failures

    def lines(self) -> list[str]:
        """One line per failure, then a summary line."""
        out = [failure_line(f, self.spec) for f in self.failures]
        n, k = len(self.findings), len(self.failures)
        scope = (f"{len(self.croppers)} cropper{'s' * (len(self.croppers) != 1)}, "
                 f"{_pct(self.spec.level)} clustered intervals")
        out.append(f"cropaudit check: {k} of {n} checks failed ({scope})" if k else
                   f"cropaudit check: all {n} checks passed ({scope})")
        return out


def _pct(level: float) -> str:
    return f"{100 * level:g}%"


def _pp(x: float) -> str:
    return f"{100 * x:+.1f}" if math.isfinite(x) else "n/a"


def failure_line(f: Finding, spec: GateSpec) -> str:
    """``FAIL [cropper] comparison x: Δ +47.9 pp [+43.1, +50.0] ... band [-5.0, +5.0] pp``."""
    band = f"[{_pp(f.band[0])}, {_pp(f.band[1])}] pp"
    what = "Δ" if f.kind == "comparison" else "difference from the reference"
    numbers = f"{what} {_pp(f.estimate)} pp, interval [{_pp(f.low)}, {_pp(f.high)}]"
    prefix = f"FAIL [{terminal(f.cropper)}] {f.label}"
    if f.outcome == "fail" and f.reason == "missing":
        return f"{prefix}: not in this cropper's results"
    if f.outcome == "fail":
        return f"{prefix}: {numbers} lies outside the band {band}"
    return f"{prefix}: insufficient evidence ({f.reason}): {numbers}, band {band}"


def _judge(low: float, high: float, n_eff: float, note: str, band: tuple[float, float],
           spec: GateSpec) -> tuple[Outcome, str]:
    if note:
        return "insufficient", note
    if not (math.isfinite(low) and math.isfinite(high)):
        return "insufficient", "no interval"
    if not math.isfinite(n_eff) or n_eff < spec.min_effective_n:
        return "insufficient", f"n_effective {n_eff:.1f} < {spec.min_effective_n:g}"
    if band[0] <= low and high <= band[1]:
        return "pass", "inside the band"
    if high < band[0] or low > band[1]:
        return "fail", "outside the band"
    return "insufficient", "the interval crosses the band's edge"


def results_croppers(results: str | os.PathLike[str]) -> list[str]:
    """Croppers with statistics in a results folder (``croppers/<name>/stats/``)."""
    folder = Path(results) / "croppers"
    return sorted(p.parent.name for p in folder.glob("*/stats") if p.is_dir())


def results_level(results: str | os.PathLike[str]) -> float:
    """The confidence level of a results folder's intervals: 1 − ``stats.alpha`` of the
    configuration the run wrote (``config.yaml``), default 0.95."""
    from cropaudit.config import read_yaml_mapping

    path = Path(results) / "config.yaml"
    if not path.is_file():
        raise InputFileError(f"{path}: not found (is {results} the results folder of an audit?)")
    stats = (read_yaml_mapping(path) or {}).get("stats") or {}
    alpha = stats.get("alpha", 0.05) if isinstance(stats, dict) else 0.05
    return 1.0 - float(alpha)


def check(results: str | os.PathLike[str], spec: GateSpec) -> GateResult:
    """Judge every listed comparison and disparity for every cropper of ``results``."""
    results = Path(results)
    if not results.is_dir():
        raise InputFileError(f"{results}: results folder not found")
    found = results_croppers(results)
    if not found:
        raise InputFileError(f"{results}: no croppers/<name>/stats/ inside (run the audit first)")
    level = results_level(results)
    if abs(level - spec.level) > 1e-9:
        raise ConfigError(
            f"gate spec: level {spec.level:g}, but the intervals in {results} are at "
            f"{level:g} (stats.alpha {1 - level:g}): set level: {level:g}, or rerun the audit "
            f"with stats.alpha: {1 - spec.level:g}")
    croppers = spec.croppers if spec.croppers is not None else found
    unknown = [c for c in croppers if c not in found]
    if unknown:
        raise InputFileError(f"{results}: no results for cropper {terminal(unknown[0])} "
                             f"(has: {', '.join(map(terminal, found))})")
    findings: list[Finding] = []
    rules: list[tuple[Kind, Sequence[ComparisonRule]]] = [
        ("comparison", spec.comparisons), ("disparity", spec.disparities)]
    for kind, listed in rules:
        if not listed:
            continue
        tables = {c: read_intervals(results / "croppers" / c / "stats", kind) for c in croppers}
        for rule in listed:
            if rule.name != ANY and not any(_rows(t, rule).size for t in tables.values()):
                known = sorted({str(n) for t in tables.values() for n in t["name"]})
                raise ConfigError(f"gate spec: no {kind} {terminal(rule.name)} in {results} "
                                  f"(has: {', '.join(map(terminal, known))})")
            for cropper in croppers:
                findings += _findings(cropper, kind, rule, tables[cropper], spec)
    return GateResult(spec, tuple(findings), tuple(croppers))


def _rows(table: pd.DataFrame, rule: ComparisonRule) -> Any:
    """Index of the rows a rule names."""
    mask = (table["name"] == rule.name) if rule.name != ANY else table["name"].notna()
    if isinstance(rule, DisparityRule) and rule.level != ANY:
        mask &= table["level"] == rule.level
    return table.index[mask]


def _findings(cropper: str, kind: Kind, rule: ComparisonRule, table: pd.DataFrame,
              spec: GateSpec) -> Iterable[Finding]:
    level = rule.level if isinstance(rule, DisparityRule) else ""
    rows = _rows(table, rule)
    if not rows.size:
        if rule.name != ANY:  # listed, present for another cropper, missing here: fails
            nan = float("nan")
            yield Finding(cropper, kind, rule.name, level, "", rule.band, nan, nan, nan, nan,
                          "fail", "missing")
        return
    for r in table.loc[rows].itertuples():
        low, high, n_eff = float(r.low), float(r.high), float(r.n_effective)
        outcome, reason = _judge(low, high, n_eff, str(r.note), rule.band, spec)
        yield Finding(cropper, kind, str(r.name), str(r.level), str(r.setting), rule.band,
                      float(r.estimate), low, high, n_eff, outcome, reason)


def junit_xml(result: GateResult) -> str:
    """JUnit XML: one test suite per cropper, one test case per (item, setting); a failure
    element for each failure, ``skipped`` for insufficient evidence the spec lets pass."""
    spec = result.spec
    root = ET.Element("testsuites", name="cropaudit check", tests=str(len(result.findings)),
                      failures=str(len(result.failures)))
    for cropper in result.croppers:
        mine = [f for f in result.findings if f.cropper == cropper]
        suite = ET.SubElement(root, "testsuite", name=f"cropaudit.{terminal(cropper)}",
                              tests=str(len(mine)), errors="0",
                              failures=str(sum(result.failed(f) for f in mine)),
                              skipped=str(sum(f.outcome == "insufficient" and not result.failed(f)
                                              for f in mine)))
        for f in mine:
            case = ET.SubElement(suite, "testcase", name=f.label,
                                 classname=f"cropaudit.{terminal(cropper)}.{f.kind}s", time="0")
            line = failure_line(f, spec).split(": ", 1)[-1]
            if result.failed(f):
                kind = "insufficient-evidence" if f.outcome == "insufficient" else "band"
                ET.SubElement(case, "failure", message=line, type=kind).text = line
            elif f.outcome == "insufficient":
                ET.SubElement(case, "skipped", message=f"{line} (passes: insufficient: pass)")
            ET.SubElement(case, "system-out").text = (
                f"estimate {f.estimate:.6g}, interval [{f.low:.6g}, {f.high:.6g}] at "
                f"{_pct(spec.level)}, band [{f.band[0]:g}, {f.band[1]:g}], n_effective "
                f"{f.n_effective:.4g}, setting {terminal(f.setting)}: {f.outcome} ({f.reason})")
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
