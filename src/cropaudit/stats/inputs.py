"""Checking the stats stage's inputs against its parameters.

The outcomes table and the stats CSVs are read by :mod:`cropaudit.contracts`
(``read_outcomes``, ``read_stats_table``).
"""

from __future__ import annotations

from cropaudit.errors import ConfigError
from cropaudit.stats.params import StatsParams


def check_aggregates(stats: StatsParams, attributes: list[str]) -> None:
    """Every aggregate must name a configured group attribute."""
    for i, agg in enumerate(stats.aggregates):
        if agg.attribute not in attributes:
            raise ConfigError(
                f"stats.aggregates.{i}.attribute: {agg.attribute!r} is not one of "
                f"dataset.groups.attributes {attributes}"
            )
