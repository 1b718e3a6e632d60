"""Bias statistics: pure functions from tidy tables to tidy tables (no file I/O here).

One module per concept: ``proportions`` (p, Δ, intervals, tests), ``counts`` (comparisons and
aggregates from counts, heterogeneity, design-effect sensitivity), ``groups`` (labels, panels,
pooling), ``bootstrap`` (cluster bootstrap over source images), ``clustered`` (cluster-robust
covariances for observations sharing images), ``position`` (left/right bias, per-comparison
counterbalancing), ``equivalence`` (TOST), ``power``, ``distributions`` (saliency scores),
``multinomial`` (k-way "together" tuples: raw shares, position-adjusted conditional logit,
Monte Carlo test), ``disparity`` (per-group rates against a reference, fairlearn / Aequitas
shape), ``outcomes`` (the saliency outcomes table as tuples), ``croppers`` (two croppers on
the same tuples), ``audit`` (all of it for one run, as tidy tables), ``results`` (each test
of a run as a result object with its method, and the long table ``tidy.csv``), ``findings``
(what the report shows, derived for it by the stages) and ``simulation``
(outcome tables with a known truth, for the simulation study in benchmarks/stats_study.py;
no stage imports it). docs/statistics.md says what each number means.

The public API below is what other parts of the project (and users comparing croppers) call;
everything else may change.
"""

from importlib import import_module
from typing import Any

#: public name -> module; imported on first use, so ``cropaudit.stats.params`` (read by every
#: command through the config) does not pull in pandas and statsmodels
_PUBLIC = {
    "AuditResult": "audit",
    "audit": "audit",
    "compare_croppers": "croppers",
    "disparity_rows": "disparity",
    "disparity_table": "disparity",
    "StatsParams": "params",
    "metrics": "summary",
    "summary_markdown": "summary",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        return getattr(import_module(f"cropaudit.stats.{_PUBLIC[name]}"), name)
    raise AttributeError(f"module 'cropaudit.stats' has no attribute {name!r}")
