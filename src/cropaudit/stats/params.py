"""``stats:`` section of params.yaml: how bias is measured and how sure we must be.

Every choice a reviewer could question (interval method, significance level, multiplicity
correction, bootstrap size, equivalence tolerance, how aggregates pool comparisons) is a named
parameter here, so a report's numbers can always be traced back to one setting.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

#: interval methods of ``statsmodels.stats.proportion.proportion_confint`` we expose
IntervalMethod = Literal["wilson", "beta", "agresti_coull", "jeffreys", "normal"]
PoolingMode = Literal["consistent", "paper-compatible"]
#: multiple-comparison corrections (``statsmodels`` ``multipletests`` methods holm, fdr_bh)
Correction = Literal["holm", "bh"]


class AggregateParams(BaseModel):
    """One aggregate comparison: every pair whose groups differ in ``attribute`` as first/second.

    E.g. ``{name: race, attribute: race, first: black, second: white}`` pools black-vs-white
    comparisons (p = P(the black member's image holds the salient point)).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, description="short name used in tables and figures")
    attribute: str = Field(min_length=1, description="group attribute (see dataset.groups)")
    first: str = Field(min_length=1, description="attribute value whose win rate p measures")
    second: str = Field(min_length=1, description="the attribute value it is compared against")

    @model_validator(mode="after")
    def _distinct(self) -> AggregateParams:
        if self.first == self.second:
            raise ValueError("first and second must differ")
        return self


def _default_aggregates() -> list[AggregateParams]:
    return [
        AggregateParams(name="race", attribute="race", first="black", second="white"),
        AggregateParams(name="gender", attribute="gender", first="female", second="male"),
    ]


class StatsParams(BaseModel):
    """``stats:`` section. The random seed is the top-level ``seed``."""

    model_config = ConfigDict(extra="forbid")

    interval: IntervalMethod = Field(
        "wilson",
        description="interval for p (beta = Clopper-Pearson); the paper's Wald ±2·SE is "
        "always reported beside it",
    )
    alpha: float = Field(0.05, gt=0, lt=0.5, description="significance level of every test")
    correction: Correction = Field(
        "holm", description="multiple-comparison correction across all comparisons of a run"
    )
    bootstrap_resamples: int = Field(
        2000, ge=0, le=100_000,
        description="cluster-bootstrap resamples of source images (0 = skip)",
    )
    equivalence_margin: float = Field(
        0.02, gt=0, lt=0.5, description="TOST tolerance on Δ = p − 0.5 (equivalent to parity)"
    )
    power: float = Field(0.8, gt=0, lt=1, description="power for the minimum detectable Δ")
    pooling: PoolingMode = Field(
        "consistent",
        description="consistent = every first-vs-second comparison, flipped when stored the "
        "other way round; paper-compatible = only those stored first-vs-second (the paper)",
    )
    aggregates: list[AggregateParams] = Field(default_factory=_default_aggregates,
                                              max_length=100)
    disparity_min_n: int = Field(
        30, ge=1, le=1_000_000,
        description="effective observations (n / design effect) a group and its "
        "reference need before the disparity table states a difference either way; below "
        "it says 'insufficient evidence'",
    )

    @model_validator(mode="after")
    def _unique_names(self) -> StatsParams:
        names = [a.name for a in self.aggregates]
        if len(set(names)) != len(names):
            raise ValueError("aggregate names must be unique")
        return self
