"""The paper's raw counts: safe parsing, and its published Δs as known answers."""

from __future__ import annotations

from pathlib import Path

import pytest

from cropaudit.cli import main
from cropaudit.errors import InputFileError
from cropaudit.stats.counts import aggregate, aggregates_both_modes, proportion_table
from cropaudit.stats.paper import available, pair_counts, parse_results, select
from cropaudit.stats.params import StatsParams

GOOD = (
    "{'group_name_list': (('black', 'female'), ('white', 'male')), "
    "'stats': array([5547., 4453.]), 'num_iterations': 10000, 'setting': 's'}"
)


@pytest.fixture(scope="module")
def results_txt(shared_dir: Path) -> Path:
    path = shared_dir / "paper" / "results.txt"
    if not path.is_file():
        pytest.skip(f"paper results not found at {path}")
    return path


@pytest.fixture(scope="module")
def headline(results_txt: Path):
    counts = pair_counts(select(parse_results(results_txt), "wiki_no_scaling_intersect", 10000))
    primary, alternative = aggregates_both_modes(counts, StatsParams().aggregates, "consistent")
    return counts, proportion_table(counts, [*primary, *alternative])


def test_headline_deltas_match_the_paper(headline) -> None:
    _, table = headline
    rounded = {r.label: round(100 * r.delta) for r in table[table["primary"]].itertuples()}
    paper = {
        "BF ↔ WF": -7, "BM ↔ WM": -2, "BF ↔ BM": 7, "WF ↔ WM": 12,
        "BF ↔ WM": 5, "BM ↔ WF": -14, "B ↔ W": -4,
    }
    for label, expected in paper.items():
        assert rounded[label] == expected, label
    # the paper's gender aggregate (+8%) is the paper-compatible pooling ...
    alt = table[~table["primary"]].iloc[0]
    assert alt["comparison"] == "gender:female~male[paper-compatible]"
    assert round(100 * alt["delta"]) == 8
    assert alt["p"] == pytest.approx(0.580, abs=0.0005)
    # ... while pooling every female-male comparison with consistent orientation gives 0.594
    consistent = table[table["label"] == "F ↔ M"].iloc[0]
    assert consistent["p"] == pytest.approx(0.594, abs=0.0005)
    assert consistent["n"] == 40000 and alt["n"] == 30000


def test_paper_compatible_pooling_leaves_out_the_male_first_comparison(headline) -> None:
    counts, _ = headline
    spec = StatsParams().aggregates[1]
    paper = aggregate(counts, spec, "paper-compatible")
    consistent = aggregate(counts, spec, "consistent")
    assert {m.comparison for m in consistent.members} - {m.comparison for m in paper.members} == {
        "black_male~white_female"
    }
    flipped = [m for m in consistent.members if m.flipped]
    assert [m.comparison for m in flipped] == ["black_male~white_female"]
    # race: every comparison is stored black-first, so both modes agree (-4%)
    race = StatsParams().aggregates[0]
    a, b = aggregate(counts, race, "paper-compatible"), aggregate(counts, race, "consistent")
    assert (a.members, a.count, a.n) == (b.members, b.count, b.n)
    assert round(100 * (a.count / a.n - 0.5)) == -4


def test_every_setting_is_readable(results_txt: Path) -> None:
    entries = parse_results(results_txt)
    assert len(entries) == len([ln for ln in results_txt.read_text().splitlines() if ln.strip()])
    settings = available(entries)
    assert {"wiki_no_scaling", "wiki_fixed_height", "wiki_no_scaling_intersect",
            "wiki_fixed_height_intersect", "wiki_no_scaling_intersect_together"} <= set(settings)
    for setting, ns in settings.items():
        for n in ns:
            selected = select(entries, setting, n)
            for e in selected:
                assert sum(e.counts) == e.n
            if setting.endswith("_together"):
                assert all(e.kind == "together" and len(e.groups) == 4 for e in selected)
                assert selected[0].groups[0].label == "black_female"
            else:
                table = proportion_table(pair_counts(selected))
                assert len(table) == len(selected)
                assert table["p"].between(0, 1).all()
    # wiki_no_scaling n=2000 stores a gender-only female~male run beside the intersectional
    # ones: it is a comparison of its own, never pooled into the aggregates
    mixed = pair_counts(select(entries, "wiki_no_scaling", 2000))
    assert "female~male" in {c.comparison for c in mixed}
    gender = aggregate(mixed, StatsParams().aggregates[1], "consistent")
    assert "female~male" not in {m.comparison for m in gender.members} and gender.n == 8000
    fixed = {e.comparison: e for e in select(entries, "wiki_fixed_height_intersect", 5000)}
    assert fixed["white_female~white_male"].counts == (3068, 1932)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{'group_name_list': ('a', 'b'), 'stats': array([1., 1.]), 'num_iterations'", "literal"),
        ("__import__('os').system('touch /tmp/cropaudit-pwned')", "not a dict"),
        (GOOD.replace("array(", "__import__('os').system("), "only array"),
        (GOOD.replace("'setting': 's'", "'mode': 's'"), "missing key 'setting'"),
        (GOOD.replace("4453.", "4454."), "sum to 10001"),
        (GOOD.replace("5547., 4453.", "5547.5, 4452.5"), "whole counts"),
        (GOOD.replace("[5547., 4453.]", "[10000.]"), "one count per group"),
    ],
)
def test_malformed_line_reports_its_number(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "results.txt"
    path.write_text(f"{GOOD}\n\n{line}\n{GOOD}\n")
    with pytest.raises(InputFileError) as err:
        parse_results(path)
    text = str(err.value)
    assert f"{path}: line 3: " in text and message in text
    assert "\n" not in text
    assert not Path("/tmp/cropaudit-pwned").exists()


def test_paper_figure_command(results_txt: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "paper"
    assert main(["paper-figure", "--results", str(results_txt), "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "BM ↔ WF" in printed and "-14%" in printed
    assert "F ↔ M (paper-compatible)" in printed and "+8%" in printed and "+9%" in printed
    stem = "paper_wiki_no_scaling_intersect_n10000"
    for name in ("", "_race", "_gender", "_cross", "_aggregate"):
        png = out / f"{stem}{name}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / f"{stem}.csv").is_file()
    # the together setting: one figure per entry and a chi-square line
    assert main(["paper-figure", "--results", str(results_txt), "--out-dir", str(out),
                 "--setting", "wiki_no_scaling_intersect_together", "--n", "5000"]) == 0
    printed = capsys.readouterr().out
    assert "chi2 =" in printed and "white_female" in printed
    assert (out / "paper_wiki_no_scaling_intersect_together_n5000_entry1.png").is_file()


def test_paper_figure_unknown_setting_is_one_line_error(results_txt: Path, capsys) -> None:
    assert main(["paper-figure", "--results", str(results_txt), "--setting", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("cropaudit paper-figure: error: setting 'nope' not in results")
    assert "\n" not in err


def test_heterogeneity_and_design_effect_sensitivity_of_the_paper(headline) -> None:
    # the audit's known answers: B↔W pools members at 0.434 / 0.477 / 0.555 / 0.365,
    # χ² = 765 on 3 df; BM↔WM stops being significant at a design effect of 5.7 (α = 0.05)
    from cropaudit.stats.counts import significant_up_to_design_effect

    _, table = headline
    t = table.set_index("label")
    assert t.loc["B ↔ W", "heterogeneity_chi2"] == pytest.approx(765, abs=1)
    assert t.loc["B ↔ W", "heterogeneity_df"] == 3
    assert t.loc["BF ↔ WF", "heterogeneity_df"] == 0  # not an aggregate
    assert significant_up_to_design_effect(4767, 10000, 0.05) == pytest.approx(5.7, abs=0.05)
    # the table uses the strictest Holm step, α / (number of primary rows)
    family = int(table["primary"].sum())
    assert t.loc["BM ↔ WM", "significant_up_to_de"] == pytest.approx(
        significant_up_to_design_effect(4767, 10000, 0.05 / family))
    assert significant_up_to_design_effect(5000, 10000, 0.05) == 0.0


def test_paper_figure_prints_caveat_adjusted_p_and_heterogeneity(results_txt: Path, tmp_path,
                                                                  capsys) -> None:
    assert main(["paper-figure", "--results", str(results_txt), "--out-dir",
                 str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Caveat" in out and "naive" in out and "sig. to DE" in out and "Holm p" in out
    assert "Heterogeneity B ↔ W: chi2 = 764.8 on 3 df" in out
