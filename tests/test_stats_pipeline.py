"""The stats stage on seeded synthetic outcome tables: contract handling, position bias,
verdicts, and the stats / plots / power commands end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cropaudit.cli import main
from cropaudit.errors import InputFileError
from cropaudit.stats.audit import audit
from cropaudit.stats.outcomes import pair_tuples
from cropaudit.stats.params import StatsParams
from cropaudit.stats.position import position_model
from metric_keys import assert_naive_keys_are_labelled
from simulate import GROUP_VALUES, simulate_outcomes, simulated_groups


def test_pair_tuples_put_reversed_members_back_in_canonical_order() -> None:
    df = simulate_outcomes(1, bases_per_comparison=50)
    t = pair_tuples(df)
    assert len(t) == 6 * 2 * 50
    assert (t["group_a"] == t["comparison"].str.split("~").str[0]).all()
    reversed_ = t[t["order"] == 1]
    assert (reversed_["left_group"] == reversed_["group_b"]).all()
    # a_won and left_won agree in order 0 and are complementary in order 1
    assert (t.loc[t["order"] == 0, "a_won"] == t.loc[t["order"] == 0, "left_won"]).all()
    assert (reversed_["a_won"] != reversed_["left_won"]).all()
    # the mirrored tuple shows the same images
    pairs = t.pivot_table(index="base_id", columns="order", values="image_a", aggfunc="first")
    assert (pairs[0] == pairs[1]).all()


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.drop(columns="won"), "missing column 'won'"),
        (lambda d: d.assign(won=True), "winners"),
        (lambda d: d.assign(group=np.where(d.index == 0, "white_male", d["group"])),
         "comparison says otherwise"),
    ],
)
def test_contract_violations_are_reported(mutate, message: str) -> None:
    df = simulate_outcomes(2, bases_per_comparison=5)
    with pytest.raises(InputFileError, match=message):
        pair_tuples(mutate(df), "saliency.parquet")


def test_planted_position_bias_is_recovered_within_its_interval() -> None:
    # no per-image effects, so the fitted logit is the simulated model. One seeded draw: the
    # estimate must lie within 3 SE of the truth (a 95 % interval misses 1 draw in 20; the
    # coverage itself is measured in test_stats_simulation.py)
    df = simulate_outcomes(3, strength={"white_female": 0.4}, position_effect=0.3,
                           images_per_group=200, bases_per_comparison=1500)
    model = position_model(pair_tuples(df))
    pos = model.position
    assert abs(pos["coef"] - 0.3) < 3 * pos["se"]
    assert pos["p_value"] < 1e-6
    wf = model.term("group[white_female]")  # reference black_female has strength 0
    assert wf["low"] < 0.4 < wf["high"]
    # no position effect planted: the interval covers 0 (seeded)
    null = position_model(pair_tuples(simulate_outcomes(
        4, strength={"white_female": 0.4}, images_per_group=200, bases_per_comparison=1500)))
    assert null.position["low"] < 0 < null.position["high"]


def test_position_model_needs_counterbalanced_data() -> None:
    df = simulate_outcomes(5, both_orders=False, bases_per_comparison=100)
    assert position_model(pair_tuples(df)) is None
    result = audit(df, StatsParams(bootstrap_resamples=0), simulated_groups(), seed=1)
    assert result.position_model.empty
    assert not result.comparisons["counterbalanced"].any()


def test_audit_verdicts_and_pooling() -> None:
    # many images, no image effects: a large true bias differs, no bias is equivalent
    df = simulate_outcomes(6, strength={"white_female": 0.5}, images_per_group=2000,
                           bases_per_comparison=6000)
    result = audit(df, StatsParams(bootstrap_resamples=200), simulated_groups(), seed=1)
    c = result.comparisons.set_index("comparison")
    assert c.loc["black_male~white_male", "verdict"] == "equivalent"
    assert c.loc["white_female~white_male", "verdict"] == "differs"
    assert c.loc["black_female~white_female", "verdict"] == "differs"
    assert c.loc["black_male~white_female", "delta"] < -0.05
    # gender aggregate: consistent pooling flips black_male~white_female; the paper's doesn't
    g = c.loc["gender:female~male"]
    assert "black_male~white_female (reversed)" in g["members"] and g["n"] == 4 * 12000
    alt = c.loc["gender:female~male[paper-compatible]"]
    assert not alt["primary"] and alt["n"] == 3 * 12000 and alt["verdict"] == ""
    assert c.loc[c["primary"], "naive_p_value_adjusted"].notna().all()
    assert (c["design_effect"] < 1.6).all()


def _write_params(path: Path, **stats) -> Path:
    import yaml

    path.write_text(yaml.safe_dump({"seed": 7, "stats": {"bootstrap_resamples": 300, **stats}}))
    return path


def test_stats_and_plots_commands(tmp_path: Path, capsys) -> None:
    outcomes = tmp_path / "saliency.parquet"
    simulate_outcomes(7, strength={"white_female": 0.3}, position_effect=0.4, image_sd=0.3,
                      images_per_group=60, bases_per_comparison=400,
                      together_tuples=300).to_parquet(outcomes)
    params = _write_params(tmp_path / "params.yaml")
    stats_dir, metrics = tmp_path / "stats", tmp_path / "metrics.json"
    assert main(["stats", "--params", str(params), "--outcomes", str(outcomes),
                 "--out-dir", str(stats_dir), "--metrics", str(metrics)]) == 0
    comparisons = pd.read_csv(stats_dir / "comparisons.csv")
    assert len(comparisons[comparisons["kind"] == "pair"]) == 6
    assert {"race:black~white", "gender:female~male"} <= set(comparisons["comparison"])
    for col in ("ci_low", "naive_wald_low", "boot_low", "design_effect", "clusters",
                "naive_p_value_adjusted", "tost_p_value_clustered_adjusted", "verdict",
                "equivalence_bound", "naive_min_detectable_delta"):
        assert col in comparisons.columns
    m = json.loads(metrics.read_text())
    assert m["position"]["significant"] is True
    assert m["position"]["log_odds_low"] > 0 and m["position"]["p_left"] > 0.5
    assert sum(m["verdicts"].values()) == 8
    assert m["position"]["groups_joint_p_value"] is not None
    assert_naive_keys_are_labelled(m)
    assert set(m["aggregates"]) == {"race", "gender", "gender_paper_compatible"}
    summary = (stats_dir / "summary.md").read_text()
    assert "Position bias detected" in summary and "paper-compatible" in summary
    assert "joint F-test" in summary
    groups = pd.read_csv(stats_dir / "groups.csv")
    assert set(groups["group"]) == set(GROUP_VALUES)
    assert "All 4 groups at once" in summary
    assert len(pd.read_csv(stats_dir / "together.csv")) == 4
    assert set(pd.read_csv(stats_dir / "distributions.csv")["score"]) == {"max", "p95", "p50",
                                                                          "mean"}
    figures = tmp_path / "figures"
    assert main(["plots", "--params", str(params), "--stats-dir", str(stats_dir),
                 "--outcomes", str(outcomes), "--out-dir", str(figures)]) == 0
    names = {p.name for p in figures.glob("*.png")}
    assert {"bars.png", "bars_race.png", "bars_gender.png", "bars_cross.png",
            "bars_aggregate.png", "forest.png", "ecdf.png", "together.png"} <= names
    for p in figures.glob("*.png"):
        assert p.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()


def test_a_run_without_together_tuples_gets_its_tables_figures_and_report(
        tmp_path: Path, capsys) -> None:
    """``sampling.together: false``: no k-way tuples, so the together table is empty; the
    figures and the report are made without it."""
    outcomes = tmp_path / "saliency.parquet"
    simulate_outcomes(9, images_per_group=20, bases_per_comparison=60,
                      together_tuples=0).to_parquet(outcomes)
    params = _write_params(tmp_path / "params.yaml")
    stats_dir, figures = tmp_path / "stats", tmp_path / "figures"
    assert main(["stats", "--params", str(params), "--outcomes", str(outcomes),
                 "--out-dir", str(stats_dir), "--metrics", str(tmp_path / "m.json")]) == 0
    assert main(["plots", "--params", str(params), "--stats-dir", str(stats_dir),
                 "--outcomes", str(outcomes), "--out-dir", str(figures)]) == 0
    assert not list(figures.glob("together*.png"))
    report = tmp_path / "report.html"
    assert main(["report", "--params", str(params), "--stats-dir", str(stats_dir),
                 "--figures-dir", str(figures), "--out", str(report)]) == 0
    html = report.read_text()
    assert html.count("data:image/png") == len(list(figures.glob("*.png"))) > 0
    assert "groups at once" not in html  # the together section ("All 4 groups at once")
    assert 'id="crops"' not in html  # no crops table given: no retention section
    # the report renders the retention stats summarised; it never summarises crops itself
    crops = tmp_path / "crops.parquet"
    crops.write_bytes(b"")
    assert main(["report", "--params", str(params), "--stats-dir", str(stats_dir),
                 "--figures-dir", str(figures), "--crops", str(crops), "--out",
                 str(report)]) != 0
    assert "run `cropaudit stats --crops" in capsys.readouterr().err


def test_stats_command_errors_are_one_line(tmp_path: Path, capsys) -> None:
    outcomes = tmp_path / "saliency.parquet"
    simulate_outcomes(8, bases_per_comparison=10).to_parquet(outcomes)
    bad = _write_params(tmp_path / "params.yaml",
                        aggregates=[{"name": "age", "attribute": "age", "first": "old",
                                     "second": "young"}])
    args = ["stats", "--outcomes", str(outcomes), "--out-dir", str(tmp_path / "s"),
            "--metrics", str(tmp_path / "m.json")]
    assert main([*args, "--params", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "stats.aggregates.0.attribute: 'age'" in err and "\n" not in err
    assert main([*args[:1], "--outcomes", str(tmp_path / "missing.parquet"), *args[3:]]) == 2
    assert "outcomes table not found" in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_power_command(capsys) -> None:
    assert main(["power", "--delta", "0.02", "--alpha", "0.05", "--power", "0.8",
                 "--n", "10000"]) == 0
    out = capsys.readouterr().out
    assert "pairs needed per comparison: 4903" in out
    assert "minimum detectable Δ with n = 10000: ±0.0140" in out
    with pytest.raises(SystemExit):
        main(["power", "--delta", "0.7"])
    capsys.readouterr()



@pytest.mark.parametrize(("images", "flagged"), [(8, True), (30, False)])
def test_the_summary_flags_comparisons_on_few_images(images: int, flagged: bool) -> None:
    """Where the simulation study measured the disparity intervals short (≤ 10 images of a
    group), the summary says so beside the verdicts; with more images it says nothing."""
    from cropaudit.stats.summary import summary_markdown

    outcomes = simulate_outcomes(3, images_per_group=images, bases_per_comparison=40,
                                 together_tuples=0)
    result = audit(outcomes, StatsParams(bootstrap_resamples=0), simulated_groups(), seed=3)
    assert ("**Few images**" in summary_markdown(result)) is flagged
