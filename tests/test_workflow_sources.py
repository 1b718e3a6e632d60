"""Every documented dataset source: its table contract, and the FairFace preset through the
whole workflow.

Sources differ only in how `cropaudit prepare-data` builds the dataset table; every later stage
reads that table. So each source is held to the table's contract here (columns, groups,
counts, licence and attribution fields, digests of the image files), through the real command,
and one source runs a whole audit, through `dvc repro` (after which Snakemake has nothing to do):
the FairFace preset with all seven of its race values, the one whose values carry underscores
(`latino_hispanic`) and spaces (`East Asian`). The demo source runs whole audits in
test_workflow.py and test_workflow_dvc.py (docs/testing.md).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from cropaudit.cli import main
from cropaudit.datasets.table import BASE_COLUMNS
from support.sources import SOURCES, portrait_jpeg, source_params
from support.wikimedia import FakeWikimedia
from support.workflow import (
    PARAMS,
    SNAKEFILE,
    config_of,
    planned_jobs,
    project,
    run,
    snakemake,
    tool,
    write_yaml,
)

PER_GROUP = 3
GROUPS = ["black_female", "black_male", "white_female", "white_male"]
#: FairFace's race labels as its CSV writes them.
FAIRFACE_RACES = ("White", "Black", "East Asian", "Southeast Asian", "Indian",
                  "Middle Eastern", "Latino_Hispanic")


@pytest.mark.parametrize("kind", SOURCES)
def test_source_builds_a_table_that_keeps_the_contract(
    kind: str, tmp_path: Path, fake_wikimedia: FakeWikimedia, monkeypatch: pytest.MonkeyPatch
) -> None:
    overrides = source_params(kind, tmp_path / "collection", PER_GROUP, fake=fake_wikimedia)
    params = write_yaml(tmp_path / "params.yaml", config_of(overrides))
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "data" / kind / "images.parquet"
    assert main(["prepare-data", "--params", str(params), "--out", str(out)]) == 0
    table = pd.read_parquet(out)
    assert set(BASE_COLUMNS) <= set(table.columns)
    assert {"race", "gender"} <= set(table.columns)
    assert sorted(table["group"].unique()) == GROUPS
    assert (table.groupby("group").size() == PER_GROUP).all()
    assert (table["group"] == table["race"] + "_" + table["gender"]).all()
    assert table["image_id"].is_unique
    for row in table.itertuples():
        image = out.parent / row.path
        assert hashlib.sha256(image.read_bytes()).hexdigest() == row.sha256
    if kind == "wikiceleb":  # Commons files keep their licence and attribution
        assert table["license"].astype(str).str.len().gt(0).all()
        assert table["attribution"].astype(str).str.len().gt(0).all()
        assert table["source_url"].str.startswith(fake_wikimedia.base).all()


def fairface_collection(root: Path, per_group: int) -> dict:
    """A FairFace-layout collection with every race value and both genders."""
    rows = []
    for r, race in enumerate(FAIRFACE_RACES):
        for g, gender in enumerate(("Female", "Male")):
            for i in range(per_group):
                seed = 100 * r + 10 * g + i
                path = root / "train" / f"{seed + 1}.jpg"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(portrait_jpeg(seed))
                rows.append({"file": f"train/{seed + 1}.jpg", "age": "20-29", "gender": gender,
                             "race": race, "service_test": "True"})
    pd.DataFrame(rows).to_csv(root / "fairface_label_train.csv", index=False)
    return {"dataset": {"source": "csv", "name": "fairface",
                        "groups": {"attributes": ["race", "gender"], "min_group_size": 2},
                        "manifest": {"preset": "fairface",
                                     "csv": str(root / "fairface_label_train.csv")}},
            "stats": {"aggregates": [
                {"name": "race", "attribute": "race", "first": "black", "second": "white"},
                {"name": "gender", "attribute": "gender", "first": "female", "second": "male"}],
                "bootstrap_resamples": 50, "disparity_min_n": 2}}


@pytest.mark.slow
def test_fairface_with_every_race_value_runs_through_the_workflow(tmp_path: Path) -> None:
    overrides = fairface_collection(tmp_path / "fairface", per_group=2)
    tiny = yaml.safe_load((Path(__file__).parent / "configs/tiny.yaml").read_text())
    root = project(tmp_path / "audit", {
        **tiny, **overrides, "croppers": ["center"],
        "sampling": {"n": 2, "pairs": ["black_female~white_female", "latino_hispanic_male~"
                                       "middle_eastern_male"]},
        "probes": {**tiny["probes"], "edits": {"images_per_group": 0}}})
    run([tool("dvc"), "repro"], cwd=root)
    assert planned_jobs(root) == {}
    table = pd.read_parquet(root / "data/fairface/images.parquet")
    races = {"white", "black", "east_asian", "southeast_asian", "indian", "middle_eastern",
             "latino_hispanic"}
    assert set(table["race"]) == races and table["group"].nunique() == 14
    disparities = pd.read_csv(root / "results/croppers/center/stats/disparities.csv")
    values = set(disparities.loc[disparities["level"] == "race", "value"])
    assert {"latino_hispanic", "middle_eastern"} <= values
    groups = set(disparities.loc[disparities["level"] == "group", "value"])
    assert "latino_hispanic_male" in groups
    assert json.loads((root / "results/metrics.json").read_text())
    assert (root / "results/report.html").stat().st_size > 10_000
    # `croppers: [center]` alone: no FastGaze anywhere (no model fetched, no results of it)
    assert not list((root / "models").iterdir())
    assert not [p for p in (root / "results").rglob("*") if "fastgaze" in str(p)]
    outcomes = pd.read_parquet(root / "results/croppers/center/saliency.parquet")
    assert set(outcomes["model"]) == {"center"}


@pytest.mark.slow
def test_a_changed_image_in_the_users_folder_rebuilds_the_dataset(tmp_path: Path) -> None:
    overlay = write_yaml(tmp_path / "folder.yaml",
                         source_params("folder", tmp_path / "photos", PER_GROUP))
    root = tmp_path / "audit"
    table = "data/folder/images.parquet"
    snakemake(root, table, configs=(overlay,))
    cmd = ("--snakefile", str(SNAKEFILE), table, "--configfile", str(PARAMS), str(overlay))
    assert planned_jobs(root, *cmd) == {}
    image = next((tmp_path / "photos").rglob("*.jpg"))
    image.write_bytes(portrait_jpeg(999))  # the same name, another picture
    assert planned_jobs(root, *cmd) == {"prepare_data": {""}}
