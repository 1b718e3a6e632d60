"""Gate a release on an audit: exit 1 when a cropper's clustered interval for a listed
comparison or disparity lies outside its allowed band (or when the evidence is insufficient
and the spec says that fails).

RESULTS is an audit's results folder (``results/``: ``croppers/<name>/stats/`` and
``config.yaml``). The spec (YAML) lists comparisons and disparities with their bands, the
intervals' level and what insufficient evidence does; see docs/api.md ("The gate"):

  level: 0.95                 # the audit's own level (1 - stats.alpha)
  insufficient: fail          # fail | pass
  min_effective_n: 10         # fewer effective observations: insufficient evidence
  comparisons:                # delta = p - parity, in proportions (0.05 = 5 pp)
    - {name: marked_a~plain_a, band: 0.05}
  disparities:                # a group's rate minus the reference group's
    - {name: "*", band: [-0.10, 0.10]}

One line per failure on stdout, then a summary line; --junit FILE writes JUnit XML (one test
case per cropper and item). Exit 0: every check passed; 1: the gate failed; 2: a bad spec or
results folder.
"""

from __future__ import annotations

import argparse
from pathlib import Path

HELP = "gate a release: exit 1 when an interval leaves its allowed band (audit-gate.yaml)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("results", type=Path, metavar="RESULTS",
                        help="the audit's results folder (e.g. results)")
    parser.add_argument("--spec", type=Path, required=True, metavar="FILE",
                        help="gate spec (YAML): comparisons, disparities, bands, level")
    parser.add_argument("--junit", type=Path, metavar="FILE",
                        help="also write the checks as JUnit XML (one test case each)")


def run(args: argparse.Namespace) -> int:
    from cropaudit.gate import check, junit_xml, load_spec
    from cropaudit.outputs import check_writable_dir, write_text

    spec = load_spec(args.spec)
    if args.junit is not None:
        check_writable_dir(args.junit.parent, "--junit")
    result = check(args.results, spec)
    if args.junit is not None:
        write_text(args.junit, junit_xml(result))
    for line in result.lines():
        print(line)
    return 0 if result.passed else 1
