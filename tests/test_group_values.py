"""Group attribute values travel as columns from the dataset table; a label is never split.

Issue 25, item 0: a FairFace audit crashed in ``stats`` because ``latino_hispanic_male`` was
split on ``_`` into three values for two attributes. These tests run FairFace's real value set
(seven races, four of them with ``_``) and a CSV dataset whose value is ``_d_`` through the
chain of real commands a user runs: prepare-data → sample-pairs → pair-saliency (the cheap
``center`` cropper) → gather → score-crops → stats → plots → report.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cropaudit.cli import main
from cropaudit.errors import InputFileError
from cropaudit.stats.groups import groups_from_table
from metric_keys import assert_naive_keys_are_labelled
from support.sources import _write, _write_csv, portrait_jpeg

#: FairFace's own label CSV values (``race``) and what the preset maps them to
FAIRFACE_RACES = {
    "White": "white", "Black": "black", "East Asian": "east_asian",
    "Southeast Asian": "southeast_asian", "Indian": "indian",
    "Middle Eastern": "middle_eastern", "Latino_Hispanic": "latino_hispanic",
}
FAIRFACE_GENDERS = {"Male": "male", "Female": "female"}


def test_groups_come_from_columns_not_labels() -> None:
    table = pd.DataFrame({"group": ["latino_hispanic_male", "east_asian_female"],
                          "race": ["latino_hispanic", "east_asian"],
                          "gender": ["male", "female"]})
    groups = groups_from_table(table, ["race", "gender"])
    assert groups["latino_hispanic_male"].value("race") == "latino_hispanic"
    assert groups["east_asian_female"].value("gender") == "female"


def test_a_label_standing_for_two_value_combinations_is_refused() -> None:
    table = pd.DataFrame({"group": ["a_b_c", "a_b_c"], "race": ["a_b", "a"],
                          "gender": ["c", "b_c"]})
    with pytest.raises(InputFileError, match="group 'a_b_c' has several values of 'race'"):
        groups_from_table(table, ["race", "gender"])


def test_prepare_data_refuses_values_whose_labels_collide(tmp_path: Path, capsys) -> None:
    rows = []
    for i, (race, gender) in enumerate([("a_b", "c"), ("a_b", "c"), ("a", "b_c"),
                                        ("a", "b_c")]):
        _write(tmp_path / "img" / f"{i}.jpg", portrait_jpeg(i))
        rows.append({"path": f"img/{i}.jpg", "race": race, "gender": gender})
    _write_csv(tmp_path / "labels.csv", rows)
    params = _params(tmp_path, {"csv": str(tmp_path / "labels.csv"), "values": {
        "race": {"a_b": "a_b", "a": "a"}, "gender": {"c": "c", "b_c": "b_c"}}})
    code = main(["prepare-data", "--params", str(params), "--out",
                 str(tmp_path / "data" / "images.parquet")])
    err = capsys.readouterr().err.strip()
    assert code != 0 and "both make the group label 'a_b_c'" in err and "\n" not in err


def _params(root: Path, manifest: dict, aggregates: list | None = None, n: int = 2) -> Path:
    params = {
        "seed": 5,
        "croppers": ["center"],
        "dataset": {"source": "csv", "name": "t", "manifest": manifest,
                    "groups": {"attributes": ["race", "gender"], "min_group_size": 2}},
        "sampling": {"n": n, "together": True},
        "stats": {"bootstrap_resamples": 0, "aggregates": aggregates or []},
        "crops": {"aspect_ratios": [1.0]},
    }
    path = root / "params.yaml"
    path.write_text(yaml.safe_dump(params), encoding="utf-8")
    return path


def _chain(root: Path, params: Path) -> Path:
    """The stages a user runs, each as its own ``cropaudit`` command."""
    p = str(params)
    data, pairs = root / "data" / "images.parquet", root / "pairs.parquet"
    shard, outcomes = root / "shard.parquet", root / "saliency.parquet"
    crops, stats, figures = root / "crops.parquet", root / "stats", root / "figures"
    steps = [
        ["prepare-data", "--params", p, "--out", str(data)],
        ["sample-pairs", "--params", p, "--dataset", str(data), "--out", str(pairs)],
        ["pair-saliency", "--params", p, "--dataset", str(data), "--pairs", str(pairs),
         "--cropper", "center", "--out", str(shard)],
        ["gather", "--out", str(outcomes), str(shard)],
        ["score-crops", "--params", p, "--outcomes", str(outcomes), "--out", str(crops)],
        ["stats", "--params", p, "--outcomes", str(outcomes), "--dataset", str(data),
         "--crops", str(crops), "--out-dir", str(stats), "--metrics", str(root / "metrics.json")],
        ["plots", "--params", p, "--stats-dir", str(stats), "--outcomes", str(outcomes),
         "--out-dir", str(figures)],
        ["report", "--params", p, "--stats-dir", str(stats), "--figures-dir", str(figures),
         "--crops", str(crops), "--dataset", str(data), "--out", str(root / "report.html")],
    ]
    for argv in steps:
        assert main(argv) == 0, argv
    return root


@pytest.fixture(scope="module")
def fairface(tmp_path_factory) -> Path:
    """A FairFace-preset dataset with all seven race values, 2 images per group."""
    root = tmp_path_factory.mktemp("fairface")
    rows, seed = [], 0
    for race in FAIRFACE_RACES:
        for gender in FAIRFACE_GENDERS:
            for _ in range(2):
                _write(root / "train" / f"{seed + 1}.jpg", portrait_jpeg(seed))
                rows.append({"file": f"train/{seed + 1}.jpg", "age": "20-29", "gender": gender,
                             "race": race, "service_test": "True"})
                seed += 1
    _write_csv(root / "fairface_label_train.csv", rows)
    aggregates = [{"name": "race", "attribute": "race", "first": "latino_hispanic",
                   "second": "middle_eastern"},
                  {"name": "gender", "attribute": "gender", "first": "female",
                   "second": "male"}]
    params = _params(root, {"preset": "fairface", "csv": str(root / "fairface_label_train.csv")},
                     aggregates, n=1)
    return _chain(root, params)


def test_fairface_values_reach_every_output(fairface: Path) -> None:
    stats = fairface / "stats"
    groups = pd.read_csv(stats / "groups.csv", dtype=str, keep_default_na=False)
    assert len(groups) == 14
    assert set(groups["race"]) == set(FAIRFACE_RACES.values())
    row = groups.set_index("group").loc["latino_hispanic_male"]
    assert (row["race"], row["gender"]) == ("latino_hispanic", "male")
    d = pd.read_csv(stats / "disparities.csv")
    assert set(d.loc[d["level"] == "race", "value"]) == set(FAIRFACE_RACES.values())
    assert set(d.loc[d["level"] == "gender", "value"]) == {"female", "male"}
    c = pd.read_csv(stats / "comparisons.csv")
    assert {"race:latino_hispanic~middle_eastern", "gender:female~male"} <= set(c["comparison"])
    assert (c.loc[c["primary"], "verdict"].isin(
        ["equivalent", "differs", "inconclusive", "not estimable"])).all()
    assert len(pd.read_csv(stats / "together.csv")) == 14  # all 14 groups at once
    metrics = json.loads((fairface / "metrics.json").read_text())
    assert_naive_keys_are_labelled(metrics)
    summary = (stats / "summary.md").read_text()
    assert "latino_hispanic" in summary
    assert not re.search(r"\bnan\b", summary, flags=re.IGNORECASE)  # never a NaN as a result
    assert "not estimable" in summary  # 2 images per group: said, with the reason
    html = (fairface / "report.html").read_text()
    assert "middle_eastern" in html and "southeast_asian" in html
    # the retention table stats summarised (findings/retention.csv), rendered as it stands
    retention = pd.read_csv(stats / "findings" / "retention.csv", dtype={"group": str})
    assert len(retention) and set(retention["group"]) <= set(groups["group"])
    assert 'id="crops"' in html and "mean_retention" in html
    assert (fairface / "figures" / "bars.png").stat().st_size > 1000


@pytest.fixture(scope="module")
def underscores(tmp_path_factory) -> Path:
    """A CSV dataset whose race value is ``_d_`` (the case that crashed), 2 × 2 groups."""
    root = tmp_path_factory.mktemp("underscores")
    rows, seed = [], 0
    for race in ("_d_", "e"):
        for gender in ("f", "m"):
            for _ in range(3):
                _write(root / "img" / f"{seed}.jpg", portrait_jpeg(seed))
                rows.append({"path": f"img/{seed}.jpg", "race": race, "gender": gender})
                seed += 1
    _write_csv(root / "labels.csv", rows)
    identity = {"race": {"_d_": "_d_", "e": "e"}, "gender": {"f": "f", "m": "m"}}
    aggregates = [{"name": "race", "attribute": "race", "first": "_d_", "second": "e"}]
    params = _params(root, {"csv": str(root / "labels.csv"), "values": identity}, aggregates,
                     n=6)
    return _chain(root, params)


def test_a_value_made_of_underscores_runs_through(underscores: Path) -> None:
    stats = underscores / "stats"
    groups = pd.read_csv(stats / "groups.csv", dtype=str, keep_default_na=False)
    assert set(groups["group"]) == {"_d__f", "_d__m", "e_f", "e_m"}
    assert groups.set_index("group").loc["_d__m", "race"] == "_d_"
    d = pd.read_csv(stats / "disparities.csv", dtype={"value": str}, keep_default_na=False)
    assert set(d.loc[d["level"] == "race", "value"]) == {"_d_", "e"}
    c = pd.read_csv(stats / "comparisons.csv")
    agg = c.set_index("comparison").loc["race:_d_~e"]
    assert agg["n_members"] == 4  # _d__f~e_f, _d__m~e_m and both crossed pairs
    interactions = pd.read_csv(stats / "interactions.csv", dtype=str, keep_default_na=False)
    assert set(interactions["by"]) == {"gender"}
    assert (underscores / "report.html").stat().st_size > 1000


def test_stats_without_attribute_values_says_where_to_get_them(tmp_path: Path, capsys) -> None:
    from simulate import ATTRIBUTES, simulate_outcomes

    outcomes = tmp_path / "saliency.parquet"
    simulate_outcomes(1, bases_per_comparison=5).drop(columns=list(ATTRIBUTES)).to_parquet(
        outcomes)
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump({"dataset": {"groups": {"attributes": ["race", "gender"]}},
                                      "stats": {"aggregates": []}}))
    code = main(["stats", "--params", str(params), "--outcomes", str(outcomes), "--out-dir",
                 str(tmp_path / "s"), "--metrics", str(tmp_path / "m.json")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "pass --dataset" in err and "\n" not in err
    assert not (tmp_path / "m.json").exists()
