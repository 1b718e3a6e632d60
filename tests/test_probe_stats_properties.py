"""Probe statistics hold on every shape of probe table: property-based (hypothesis).

Real probe tables (the `center` cropper on a tiny demo, through `cropaudit probe` and
`cropaudit probe-edits`) are reshaped the ways audits produce them: every tuple won by one
side or the other, one tuple per comparison, probe kinds switched off one at a time or all at
once, no edits, no rows at all, a cropper without a saliency map. `cropaudit probe-stats` must
turn each into complete tables, figures and metrics, with every interval around its estimate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

from cropaudit.cli import main
from cropaudit.probes.params import COMPOSITION_KINDS
from cropaudit.project import deep_merge
from support.workflow import REPO_ROOT

TABLES = ("flips", "flips-by-comparison", "verdicts", "stability", "soft", "survival", "edits")
PARAMS = {
    "dataset": {"demo": {"images_per_group": 3}},
    "sampling": {"n": 4},
    "croppers": ["center"],
    "probes": {"tuples_per_comparison": 2, "padding": [0, 6], "gap": [64], "order": ["swapped"],
               "layout": ["vertical"], "scaling": ["fixed_height"], "jpeg": [50], "grid": [1.0],
               "edits": {"images_per_group": 1, "luminance_steps": [-0.1, 0.1],
                         "hue_steps": [10.0], "tone": ["greyscale"], "hair_lighten": [],
                         "text": []}},
}


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with the center cropper's probe and edit tables on a tiny demo."""
    root = tmp_path_factory.mktemp("probe-tables")
    params = root / "params.yaml"
    base = yaml.safe_load((REPO_ROOT / "params.yaml").read_text(encoding="utf-8"))
    params.write_text(yaml.safe_dump(deep_merge(base, PARAMS)), encoding="utf-8")
    data = root / "data" / "images.parquet"
    common = ["--params", str(params)]
    run = [
        ["prepare-data", *common, "--out", str(data)],
        ["faces", *common, "--dataset", str(data), "--out", str(root / "faces.parquet")],
        ["sample-pairs", *common, "--dataset", str(data), "--out", str(root / "pairs.parquet")],
        ["probe", *common, "--cropper", "center", "--dataset", str(data),
         "--pairs", str(root / "pairs.parquet"), "--faces", str(root / "faces.parquet"),
         "--out", str(root / "probes.parquet")],
        ["probe-edits", *common, "--cropper", "center", "--dataset", str(data),
         "--faces", str(root / "faces.parquet"), "--out", str(root / "edits.parquet")],
    ]
    for args in run:
        assert main(args) == 0, args
    return root


@pytest.fixture(scope="module")
def real_tables(probe_run: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(probe outcomes, edit outcomes) of the center cropper on a tiny demo."""
    return (pd.read_parquet(probe_run / "probes.parquet"),
            pd.read_parquet(probe_run / "edits.parquet"))


@pytest.fixture(scope="module")
def emptied_edits(probe_run: Path) -> pd.DataFrame:
    """What `cropaudit probe-edits` writes when every edit list is emptied (images chosen,
    nothing to do to them): the README's quick look."""
    root = probe_run
    base = yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8"))
    emptied = {k: [] for k in ("luminance_steps", "hue_steps", "tone", "hair_lighten", "text")}
    params = root / "emptied.yaml"
    params.write_text(yaml.safe_dump(deep_merge(base, {"probes": {"edits": emptied}})),
                      encoding="utf-8")
    out = root / "emptied-edits.parquet"
    assert main(["probe-edits", "--params", str(params), "--cropper", "center",
                 "--dataset", str(root / "data" / "images.parquet"),
                 "--faces", str(root / "faces.parquet"), "--out", str(out)]) == 0
    return pd.read_parquet(out)


def set_winners(table: pd.DataFrame, rule: str, seed: int) -> pd.DataFrame:
    """Every tuple won by its first listed group, by its second, or at random."""
    t = table.copy()
    first = t["group"] == t["comparison"].str.split("~").str[0]
    if rule == "first":
        t["won"] = first
    elif rule == "second":
        t["won"] = ~first
    else:
        rng = np.random.default_rng(seed)
        keys = ["cropper", "probe", "setting", "tuple_id"]
        pick = t.groupby(keys)["position"].transform(
            lambda p: p.iloc[rng.integers(len(p))] if len(p) else 0)
        t["won"] = t["position"] == pick
    t["mass_won"] = t["won"]
    return t


def one_tuple_per_comparison(table: pd.DataFrame) -> pd.DataFrame:
    keep = table[table["probe"] == "baseline"].groupby("comparison")["tuple_id"].min()
    return table[table["tuple_id"].isin(keep)]


def without_map(table: pd.DataFrame) -> pd.DataFrame:
    """What a map-less cropper (face-center, a command) writes: no soft outcomes."""
    return table.assign(has_map=False, mass_share=np.nan, topk_share=np.nan, margin=np.nan,
                        mass_won=False, score_max=np.nan, score_p95=np.nan, score_p50=np.nan,
                        score_mean=np.nan, n_cells=0)


def probe_stats(tmp: Path, probes: pd.DataFrame, edits: pd.DataFrame | None) -> Path:
    tmp.mkdir(parents=True, exist_ok=True)
    probes.to_parquet(tmp / "probes.parquet")
    args = ["probe-stats", "--tables", str(tmp / "probes.parquet"),
            "--out-dir", str(tmp / "summary"), "--metrics", str(tmp / "metrics.json")]
    if edits is not None:
        edits.to_parquet(tmp / "edits.parquet")
        args += ["--edits", str(tmp / "edits.parquet")]
    assert main(args) == 0
    return tmp / "summary"


def check_outputs(summary: Path, metrics: Path) -> None:
    for name in TABLES:
        assert (summary / f"{name}.csv").is_file(), name
    for figure in ("deltas.png", "flips-offset.png"):
        assert (summary / figure).stat().st_size > 0
    assert "probes" in json.loads(metrics.read_text(encoding="utf-8"))
    assert (summary / "summary.md").read_text(encoding="utf-8").startswith("## Probes")
    for name, (est, low, high) in {"verdicts": ("delta", "delta_low", "delta_high"),
                                   "flips": ("flip_rate", "flip_low", "flip_high")}.items():
        path = summary / f"{name}.csv"
        t = pd.read_csv(path) if path.stat().st_size > 1 else pd.DataFrame()
        if len(t):
            ok = t[low].isna() | (t[low] <= t[est] + 1e-9) & (t[est] <= t[high] + 1e-9)
            assert ok.all(), t.loc[~ok, [est, low, high]]


@pytest.mark.slow
@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    winners=st.sampled_from(["first", "second", "random"]),
    seed=st.integers(0, 2**16),
    dropped=st.sets(st.sampled_from(COMPOSITION_KINDS)),
    single=st.booleans(),
    no_map=st.booleans(),
    edits=st.sampled_from(["real", "emptied", "none"]),
)
def test_probe_stats_handles_every_table_shape(real_tables, emptied_edits, tmp_path_factory,
                                               winners, seed, dropped, single, no_map, edits):
    probes, edit_rows = real_tables
    table = set_winners(probes[~probes["probe"].isin(dropped)], winners, seed)
    if single:
        table = one_tuple_per_comparison(table)
    if no_map:
        table = without_map(table)
    edit_table = {"real": edit_rows, "emptied": emptied_edits, "none": None}[edits]
    tmp = tmp_path_factory.mktemp("probe-stats")
    check_outputs(probe_stats(tmp, table, edit_table), tmp / "metrics.json")


@pytest.mark.slow
def test_every_tuple_won_by_one_side_gives_a_bar_that_reaches_its_estimate(real_tables,
                                                                           tmp_path):
    # the crash of a fresh clone's `make run`: Δ = +0.5 everywhere, upper bound a rounding
    # error below it, and a negative error bar
    probes, edits = real_tables
    summary = probe_stats(tmp_path, set_winners(probes, "first", 0), edits)
    verdicts = pd.read_csv(summary / "verdicts.csv")
    assert (verdicts["delta"] == 0.5).all()
    check_outputs(summary, tmp_path / "metrics.json")


@pytest.mark.slow
def test_no_probe_rows_at_all_is_refused_in_one_line(real_tables, tmp_path, capsys):
    probes, _ = real_tables
    probes.iloc[:0].to_parquet(tmp_path / "empty.parquet")
    code = main(["probe-stats", "--tables", str(tmp_path / "empty.parquet"),
                 "--out-dir", str(tmp_path / "summary"), "--metrics", str(tmp_path / "m.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "empty.parquet" in err[0]
    assert not (tmp_path / "summary").exists() and not (tmp_path / "m.json").exists()
