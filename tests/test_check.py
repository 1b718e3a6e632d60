"""`cropaudit check`: the release gate on an audit's clustered intervals.

The results folders here are written by hand with the statistics tables' columns; the FastGaze
rows are those of the demo audit at the default params.yaml (results/croppers/fastgaze/stats/
of `snakemake --cores 2`), so the issue's known answers are checked on real numbers: the
planted comparison fails a ±5 pp band, the null one passes ±25 pp. The end-to-end test
(test_user_project.py) runs the gate on a real audit.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cropaudit import gate
from cropaudit.cli import main

SETTING = "model={} layout=horizontal scaling=none scaling_size=0"
#: (comparison, p, delta, ci_low, ci_high, n_effective, verdict): FastGaze on the demo
FASTGAZE = [
    ("marked_a~plain_a", 0.84, 0.34, 0.6908197204063159, 0.989180279593684, 26, "differs"),
    ("plain_a~plain_b", 0.47, -0.03, 0.3173983939826467, 0.6226016060173533, 45,
     "inconclusive"),
    ("feature:marked~plain", 0.8175, 0.3175, 0.740, 0.894, 99, "differs"),
]
#: (level, value, diff, diff_low, diff_high, n_effective, evidence)
FASTGAZE_DISPARITIES = [
    ("group", "marked_a", 0.0, 0.0, 0.0, 73.4, "reference"),
    ("group", "marked_b", 0.0167, -0.1359, 0.1693, 100.9, "no detectable difference"),
    ("group", "plain_a", -0.42, -0.5739, -0.2661, 87.6, "differs"),
    ("group", "plain_b", -0.41, -0.5606, -0.2594, 104.0, "differs"),
]
#: the centre baseline on the same demo: no planted effect, wide intervals
CENTER = [
    ("marked_a~plain_a", 0.45, -0.05, 0.294, 0.605, 43, "inconclusive"),
    ("plain_a~plain_b", 0.5, 0.0, 0.352, 0.647, 48, "inconclusive"),
    ("feature:marked~plain", 0.497, -0.003, 0.396, 0.598, 98, "inconclusive"),
]
CENTER_DISPARITIES = [
    ("group", "marked_a", 0.0, 0.0, 0.0, 60.0, "reference"),
    ("group", "marked_b", -0.063, -0.218, 0.091, 40.0, "no detectable difference"),
    ("group", "plain_a", 0.023, -0.137, 0.184, 9.0, "insufficient evidence"),
    ("group", "plain_b", -0.08, -0.233, 0.073, 40.0, "no detectable difference"),
]


def write_stats(results: Path, cropper: str, comparisons, disparities) -> None:
    stats = results / "croppers" / cropper / "stats"
    stats.mkdir(parents=True)
    rows = [{"setting": SETTING.format(cropper), "comparison": c, "kind": "pair",
             "primary": True, "n": 100, "p": p, "delta": d, "ci_low": lo, "ci_high": hi,
             "n_effective": n, "verdict": v} for c, p, d, lo, hi, n, v in comparisons]
    rows.append({**rows[0], "comparison": "cohort:a~b[paper-compatible]", "primary": False,
                 "verdict": None})
    pd.DataFrame(rows).to_csv(stats / "comparisons.csv", index=False)
    pd.DataFrame([{"setting": SETTING.format(cropper), "level": lv, "value": v, "rate": 0.5,
                   "diff": d, "diff_low": lo, "diff_high": hi, "n_effective": n,
                   "evidence": e} for lv, v, d, lo, hi, n, e in disparities]
                 ).to_csv(stats / "disparities.csv", index=False)


@pytest.fixture
def results(tmp_path: Path) -> Path:
    out = tmp_path / "results"
    write_stats(out, "fastgaze", FASTGAZE, FASTGAZE_DISPARITIES)
    write_stats(out, "center", CENTER, CENTER_DISPARITIES)
    (out / "config.yaml").write_text(yaml.safe_dump({"stats": {"alpha": 0.05}}))
    return out


def spec(tmp_path: Path, **content) -> Path:
    path = tmp_path / f"gate-{len(list(tmp_path.glob('gate-*')))}.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    return path


def run_check(capsys, *args: str) -> tuple[int, list[str], str]:
    code = main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def test_the_planted_comparison_fails_a_5_pp_band(tmp_path, results, capsys):
    s = spec(tmp_path, croppers=["fastgaze"],
             comparisons=[{"name": "marked_a~plain_a", "band": 0.05}])
    code, lines, err = run_check(capsys, results, "--spec", s)
    assert code == 1, (lines, err)
    assert lines == [
        "FAIL [fastgaze] comparison marked_a~plain_a: Δ +34.0 pp, interval [+19.1, +48.9] "
        "lies outside the band [-5.0, +5.0] pp",
        "cropaudit check: 1 of 1 checks failed (1 cropper, 95% clustered intervals)",
    ]


def test_the_null_comparison_passes_a_25_pp_band(tmp_path, results, capsys):
    s = spec(tmp_path, croppers=["fastgaze"],
             comparisons=[{"name": "plain_a~plain_b", "band": [-0.25, 0.25]}])
    code, lines, _ = run_check(capsys, results, "--spec", s)
    assert code == 0
    assert lines == ["cropaudit check: all 1 checks passed (1 cropper, 95% clustered intervals)"]


def test_one_line_per_failure_and_junit_with_one_case_per_cropper_and_item(tmp_path, results,
                                                                             capsys):
    s = spec(tmp_path, comparisons=[{"name": "marked_a~plain_a", "band": 0.05},
                                    {"name": "plain_a~plain_b", "band": 0.25}],
             disparities=[{"name": "*", "band": 0.30}])
    junit = tmp_path / "ci" / "gate.xml"
    junit.parent.mkdir()
    code, lines, _ = run_check(capsys, results, "--spec", s, "--junit", junit)
    assert code == 1
    # fastgaze: planted outside ±5, plain_a/plain_b 42/41 points below marked_a (outside ±30);
    # center: planted interval crosses ±5 (insufficient), plain_a insufficient evidence
    assert [line.split(":")[0] for line in lines[:-1]] == [
        "FAIL [center] comparison marked_a~plain_a",
        "FAIL [fastgaze] comparison marked_a~plain_a",
        "FAIL [center] disparity group plain_a",
        "FAIL [fastgaze] disparity group plain_a",
        "FAIL [fastgaze] disparity group plain_b",
    ]
    assert "insufficient evidence (the interval crosses the band's edge)" in lines[0]
    assert "insufficient evidence (insufficient evidence)" in lines[2]
    assert lines[-1].startswith("cropaudit check: 5 of 10 checks failed (2 croppers")
    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites" and root.get("tests") == "10"
    assert root.get("failures") == "5"
    suites = {s.get("name"): s for s in root}
    assert set(suites) == {"cropaudit.center", "cropaudit.fastgaze"}
    cases = {c.get("name"): c for c in suites["cropaudit.fastgaze"]}
    assert set(cases) == {"comparison marked_a~plain_a", "comparison plain_a~plain_b",
                          "disparity group marked_b", "disparity group plain_a",
                          "disparity group plain_b"}
    assert cases["comparison marked_a~plain_a"].find("failure").get("type") == "band"
    assert cases["comparison plain_a~plain_b"].find("failure") is None


def test_insufficient_evidence_passes_only_when_the_spec_says_so(tmp_path, results, capsys):
    rules = {"croppers": ["center"], "comparisons": [{"name": "marked_a~plain_a", "band": 0.05}]}
    code, lines, _ = run_check(capsys, results, "--spec", spec(tmp_path, **rules))
    assert code == 1 and "insufficient evidence" in lines[0]
    junit = tmp_path / "gate.xml"
    code, lines, _ = run_check(capsys, results, "--spec",
                               spec(tmp_path, insufficient="pass", **rules), "--junit", junit)
    assert code == 0 and len(lines) == 1
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert "passes: insufficient: pass" in case.find("skipped").get("message")


def test_too_few_effective_observations_is_insufficient_evidence(tmp_path, results, capsys):
    s = spec(tmp_path, croppers=["fastgaze"], min_effective_n=50,
             comparisons=[{"name": "plain_a~plain_b", "band": 0.25}])
    code, lines, _ = run_check(capsys, results, "--spec", s)
    assert code == 1
    assert "insufficient evidence (n_effective 45.0 < 50)" in lines[0]


def test_a_disparity_the_statistics_call_insufficient_is_insufficient(tmp_path, results):
    result = gate.check(results, gate.load_spec({"croppers": ["center"], "disparities": [
        {"name": "plain_a", "band": 0.5}]}))
    (finding,) = result.findings
    assert finding.outcome == "insufficient" and not result.passed


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"comparisons": []}, "lists no comparisons and no disparities: it would check nothing"),
        ({"comparisons": [{"name": "x", "band": [0.1, -0.1]}]},
         "comparisons.0.band: band must be [low, high] with low <= high"),
        ({"comparisons": [{"name": "x", "band": 0.1}], "treshold": 1},
         "treshold: Extra inputs are not permitted"),
        ({"comparisons": [{"name": "x", "band": 0.1}], "level": 1.5},
         "level: Input should be less than 1"),
        ({"comparisons": [{"name": "x", "band": 0.1}], "insufficient": "warn"},
         "insufficient: Input should be 'fail' or 'pass'"),
    ],
)
def test_a_bad_spec_is_one_line_and_exit_2(tmp_path, results, capsys, content, message):
    s = spec(tmp_path, **content)
    code, lines, err = run_check(capsys, results, "--spec", s)
    assert code == 2 and not lines
    assert err.strip() == f"cropaudit check: error: {s}: {message}"


def test_a_comparison_no_cropper_has_is_a_spec_error_naming_the_known_ones(tmp_path, results,
                                                                           capsys):
    s = spec(tmp_path, comparisons=[{"name": "marked_a~plain_x", "band": 0.1}])
    code, _, err = run_check(capsys, results, "--spec", s)
    assert code == 2
    assert err.startswith("cropaudit check: error: gate spec: no comparison marked_a~plain_x "
                          "in ") and "(has: feature:marked~plain, marked_a~plain_a" in err


def test_a_comparison_one_cropper_lacks_fails_for_that_cropper(tmp_path, results, capsys):
    write_stats(results, "smartcrop", CENTER[1:], CENTER_DISPARITIES)
    s = spec(tmp_path, comparisons=[{"name": "marked_a~plain_a", "band": 0.5}])
    code, lines, _ = run_check(capsys, results, "--spec", s)
    assert code == 1
    assert lines[0] == ("FAIL [smartcrop] comparison marked_a~plain_a: not in this cropper's "
                        "results")


def test_the_level_must_be_the_audits(tmp_path, results, capsys):
    s = spec(tmp_path, level=0.9, comparisons=[{"name": "plain_a~plain_b", "band": 0.25}])
    code, _, err = run_check(capsys, results, "--spec", s)
    assert code == 2
    assert "level 0.9, but the intervals in" in err and "stats.alpha: 0.1" in err


@pytest.mark.parametrize("what", ["missing results", "unknown cropper", "missing spec"])
def test_bad_inputs_are_one_line_and_exit_2(tmp_path, results, capsys, what):
    s = spec(tmp_path, croppers=["nope"] if what == "unknown cropper" else None,
             comparisons=[{"name": "plain_a~plain_b", "band": 0.25}])
    args = {"missing results": [tmp_path / "nowhere", "--spec", s],
            "unknown cropper": [results, "--spec", s],
            "missing spec": [results, "--spec", tmp_path / "none.yaml"]}[what]
    code, lines, err = run_check(capsys, *args)
    assert code == 2 and not lines and len(err.strip().splitlines()) == 1


def test_names_from_data_cannot_break_the_line(tmp_path, capsys):
    results = tmp_path / "results"
    evil = "evil\ngroup\x1b[2J"
    write_stats(results, "center", CENTER, [CENTER_DISPARITIES[0],
                                           ("group", evil, 0.3, 0.2, 0.4, 50, "differs")])
    (results / "config.yaml").write_text("stats: {alpha: 0.05}\n")
    junit = tmp_path / "gate.xml"
    code, lines, _ = run_check(capsys, results, "--spec",
                               spec(tmp_path, disparities=[{"name": "*", "band": 0.1}]),
                               "--junit", junit)
    assert code == 1 and len(lines) == 2
    assert lines[0].startswith("FAIL [center] disparity group evil\\ngroup\\x1b[2J:")
    ET.parse(junit)  # well-formed despite the control characters


def test_intervals_are_read_in_one_place(results):
    """Δ's interval is p's shifted by parity; reference rows are no disparity of their own."""
    comparisons = gate.read_intervals(results / "croppers" / "fastgaze" / "stats", "comparison")
    assert list(comparisons.columns) == ["setting", "level", "name", "estimate", "low", "high",
                                         "n_effective", "note"]
    row = comparisons.set_index("name").loc["marked_a~plain_a"]
    assert row["low"] == pytest.approx(0.6908197204063159 - 0.5)
    assert "cohort:a~b[paper-compatible]" not in set(comparisons["name"])  # not primary
    disparities = gate.read_intervals(results / "croppers" / "fastgaze" / "stats", "disparity")
    assert sorted(disparities["name"]) == ["marked_b", "plain_a", "plain_b"]
