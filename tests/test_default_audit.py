"""The README's main command, `make run`, on the default configuration (params.yaml): the audit
it leaves in this checkout is complete, its report has every section, and its console stayed
short.

CI runs `make run` in its fresh clone before the tests (.ci/run), saving the console to
logs/make-run.console. Elsewhere these tests skip unless `make run` has been run here.
"""

from __future__ import annotations

import os
import re

import pytest
import yaml

from cropaudit.probes.params import COMPOSITION_KINDS
from support.workflow import REPO_ROOT, run, tool

RESULTS = REPO_ROOT / "results"
CONSOLE = REPO_ROOT / "logs" / "make-run.console"


@pytest.fixture(scope="module")
def report() -> str:
    path = RESULTS / "report.html"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI runs `make run` before the tests (.ci/run)")
        pytest.skip("run `make run` first: these tests read the default audit it leaves")
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def params() -> dict:
    return yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))


def test_make_run_finished_the_whole_audit(report):
    proc = run([tool("snakemake"), "--cores", "1", "--dry-run"], cwd=REPO_ROOT)
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_the_report_has_every_section(report, params):
    for section in ("faces", "gaze", "croppers", "probes"):
        assert f'id="{section}"' in report, section
    assert "disparit" in report.lower()
    assert len(params["croppers"]) == 6
    croppers = report[report.index('id="croppers"'):]
    for cropper in params["croppers"]:
        assert cropper in croppers, cropper
    probes = report[report.index('id="probes"'):]
    for kind in COMPOSITION_KINDS:
        assert re.search(rf"\b{kind}\b", probes), kind
    assert "edit" in probes  # the counterfactual edits


def test_the_console_stayed_short(report):
    if not CONSOLE.is_file():
        pytest.skip(f"{CONSOLE} is written by .ci/run")
    lines = CONSOLE.read_text(encoding="utf-8", errors="replace").splitlines()
    assert len(lines) <= 200, len(lines)


def test_the_planted_effect_is_detected_and_the_null_is_not(report):
    """The evidence the default audit draws (sampling.n) still detects the demo's planted badge
    at the corrected level, and its null cohort split shows nothing (docs/demo-dataset.md)."""
    import pandas as pd

    from cropaudit.config import load_params

    primary = load_params(RESULTS / "config.yaml").primary_cropper
    table = pd.read_csv(RESULTS / "croppers" / primary / "stats"
                        / "comparisons.csv").set_index("comparison")
    first = table[table["setting"] == table["setting"].iloc[0]]
    assert first.loc["feature:marked~plain", "verdict"] == "differs"
    assert first.loc["feature:marked~plain", "delta"] > 0
    assert first.loc["cohort:a~b", "verdict"] != "differs"
