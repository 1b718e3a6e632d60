"""`snakemake --lint` finds nothing but its advice to give each rule a conda environment or a
container: cropaudit's rules all run the one pinned environment (constraints.txt, README)."""

from __future__ import annotations

import re

from support.workflow import REPO_ROOT, run, tool

#: The one lint the workflow accepts, and why: see README, "Software environment".
ACCEPTED = "Specify a conda environment or container for each rule."


def lints(text: str) -> list[str]:
    """Every lint message of `snakemake --lint` text output."""
    return re.findall(r"^\s+\* (.+?):?$", text, flags=re.M)


def test_lint_finds_only_the_accepted_advice():
    proc = run([tool("snakemake"), "--lint"], cwd=REPO_ROOT, check=False)
    found = lints(proc.stdout + proc.stderr)
    assert found, proc.stdout[-2000:] + proc.stderr[-2000:]  # the parse below still matches
    assert [m for m in found if m.rstrip(":") != ACCEPTED.rstrip(":")] == []
