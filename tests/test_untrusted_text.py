"""One rule for untrusted text (issue 25, items 1 and 2): a name from the data shows literally
in every sink it reaches and cannot change what is around it.

One property-based test feeds hostile and random names through the real stages (``stats`` →
``summary.md`` → ``report``, ``plots``) and the app's PNG export; one end-to-end test runs a
group named ``a|b $x^{$ **c** ![t](https://example.org/x.png)`` through the whole workflow,
from a CSV dataset to the report and MLflow.

Values with ``_`` (which joins attribute values into a group label) are tested in
test_group_values.py and, with FairFace's, in test_workflow_sources.py.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import io
import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings, strategies as st
from matplotlib import cbook
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from cropaudit.cli import main
from cropaudit.untrusted import ZERO_WIDTH_SPACE, visible
from simulate import simulate_outcomes
from support.workflow import snakemake, write_yaml

HOSTILE = "a|b $x^{$ **c** ![t](https://example.org/x.png)"
#: Strings known to break one sink or another, four at a time (one audit's groups).
NASTY = [
    [HOSTILE, "$x^{$", "x|y", "**bold**"],
    ["*it* `code` # head", "![t](https://example.org/y.png)", "<img src=x onerror=alert(1)>",
     "[l](javascript:alert(1))"],
    ["a\nb\tc\x1b[31m", "\u202eevil", "&amp; &lt;", "=HYPERLINK(\"x\")"],
    ["NA", "null", "1", "\\$ $$ \\"],
]
#: Hypothesis names: any characters but surrogates, the label separator ``_`` (issue 25,
#: item 0) and the comparison separator ``~``.
NAMES = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="_~"),
                min_size=1, max_size=24).filter(lambda s: s.strip() == s and s != "plain")


def _shown(name: str) -> str:
    """What a reader sees of ``name``: invisible characters as escapes, white space folded."""
    return " ".join(visible(name).split())


@contextlib.contextmanager
def drawn_texts() -> Iterator[list[str]]:
    """Every text Matplotlib draws while the block runs, as displayed (not as mathtext)."""
    drawn: list[str] = []
    original = Figure.savefig

    def savefig(self: Figure, *args: object, **kwargs: object) -> object:
        out = original(self, *args, **kwargs)  # drawn first: tick labels exist only then
        for t in self.findobj(Text):
            s = t.get_text()
            if s and not cbook.is_math_text(s):
                drawn.append(s.replace("\\$", "$").removeprefix(ZERO_WIDTH_SPACE))
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Figure, "savefig", savefig)
        yield drawn


class _Page(HTMLParser):
    """The report as a reader and a browser see it: text per section, tables, and every URL
    the page would load or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str, str]] = []
        self.section = ""
        self.text: dict[str, list[str]] = {}
        self.rows: list[list[str]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href", "srcset", "poster", "data", "action", "style"):
                self.urls.append((tag, key, value or ""))
        if tag == "section":
            self.section = dict(attrs).get("id") or ""
        elif tag == "tr" and self.section == "summary":
            self.rows.append([])
        elif tag in ("td", "th") and self.section == "summary":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.section = ""
        elif tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        self.text.setdefault(self.section, []).append(data)
        if self._cell is not None:
            self._cell.append(data)

    def section_text(self, name: str) -> str:
        return " ".join("".join(self.text.get(name, [])).split())


def check_report(html: str, names: list[str]) -> None:
    """The report loads nothing, links nowhere outside itself, shows every name literally in
    the findings, and its Markdown tables keep their columns."""
    page = _Page()
    page.feed(html)
    for tag, key, value in page.urls:
        if key == "src":
            assert value.startswith("data:"), (tag, key, value[:80])
        elif key == "href":
            assert value.startswith("#"), (tag, key, value)
        else:
            assert "http" not in value and "//" not in value, (tag, key, value)
    summary = page.section_text("summary")
    widths = {len(r) for r in page.rows}
    assert len(widths) <= 2, widths  # the comparison table (9 columns) and disparities (8)
    for name in names:
        assert _shown(name) in summary, (name, summary[:2000])
    value_cells = {r[1] for r in page.rows if len(r) == 8}
    assert {_shown(n) for n in names} <= value_cells, (names, value_cells)


def _params(path: Path, **extra: object) -> Path:
    data = {"croppers": ["center"], "seed": 3,
            "dataset": {"groups": {"attributes": ["grp"]}},
            "stats": {"bootstrap_resamples": 20, "aggregates": []}, **extra}
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def _png_bytes(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _through_the_app(tmp: Path, names: list[str]) -> list[str]:
    """Each name as an upload's file name: the PNG export of one image and of a pair."""
    from cropaudit.app.server import create_app
    from cropaudit.config import parse_params

    app = create_app(parse_params({"croppers": ["center"]}), root=tmp, temp_root=tmp)
    try:
        keys = [app.store.add_bytes(_png_bytes(i), name).key for i, name in enumerate(names)]
        with drawn_texts() as texts:
            for key in keys:
                sent = app.explorer.on_download_image_png(1, key, "center", 3, 0.5)
                assert base64.b64decode(sent["content"]).startswith(b"\x89PNG")
            sent = app.explorer.on_download_pair_png(1, keys[:2], "horizontal", "none", 0, 0,
                                                     "center", 3, 0.5)
            assert base64.b64decode(sent["content"]).startswith(b"\x89PNG")
    finally:
        app.close()
    return texts


@settings(max_examples=6, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(names=st.lists(NAMES, min_size=2, max_size=3, unique_by=_shown))
@example(names=NASTY[0])
@example(names=NASTY[1])
@example(names=NASTY[2])
@example(names=NASTY[3])
def test_names_from_data_show_literally_in_summary_report_figures_and_app_export(
        tmp_path_factory: pytest.TempPathFactory, names: list[str]) -> None:
    tmp = tmp_path_factory.mktemp("names")
    groups = sorted([*names, "plain"])
    outcomes = tmp / "saliency.parquet"
    table = simulate_outcomes(1, groups=groups, images_per_group=6, bases_per_comparison=12,
                              together_tuples=12, model="center")
    table.assign(grp=table["group"]).to_parquet(outcomes)  # the attribute, as a column
    params = _params(tmp / "params.yaml")
    stats, figures, report = tmp / "stats", tmp / "figures", tmp / "report.html"
    assert main(["stats", "--params", str(params), "--outcomes", str(outcomes),
                 "--out-dir", str(stats), "--metrics", str(tmp / "metrics.json")]) == 0
    with drawn_texts() as texts:
        assert main(["plots", "--params", str(params), "--stats-dir", str(stats),
                     "--outcomes", str(outcomes), "--out-dir", str(figures)]) == 0
    assert {p.name for p in figures.glob("*.png")} >= {"bars.png", "forest.png", "ecdf.png",
                                                        "together.png"}
    for name in names:  # a tick label or legend entry of its own, drawn literally
        assert visible(name) in texts, (name, texts)
    assert main(["report", "--params", str(params), "--stats-dir", str(stats),
                 "--figures-dir", str(figures), "--out", str(report)]) == 0
    check_report(report.read_text(encoding="utf-8"), names)
    app_texts = " ".join(_through_the_app(tmp, names))
    for name in names:
        assert visible(name) in app_texts, (name, app_texts)


# -- end to end: a hostile group name through the real commands ----------------------------------


@pytest.mark.slow
def test_a_hostile_group_name_goes_through_the_workflow_to_the_report(tmp_path: Path) -> None:
    """Snakemake's default target on a CSV dataset with a group named HOSTILE: the data, the
    center cropper's chain (saliency, crops, stats, gaze, figures, probes), the summaries,
    the report and the MLflow runs all succeed, every figure is drawn, and the report shows
    the name literally and fetches nothing."""
    source = tmp_path / "source"
    source.mkdir()
    rows = []
    for i in range(12):
        (source / f"img{i}.png").write_bytes(_png_bytes(100 + i))
        rows.append({"path": f"img{i}.png", "grp": HOSTILE if i % 2 else "plain"})
    with open(source / "labels.csv", "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["path", "grp"])
        writer.writeheader()
        writer.writerows(rows)
    tiny = yaml.safe_load((Path(__file__).parent / "configs/tiny.yaml").read_text())
    overlay = write_yaml(tmp_path / "hostile.yaml", {
        **tiny, "croppers": ["center"], "stats": {**tiny["stats"], "aggregates": []},
        "dataset": {"source": "csv", "name": "hostile", "groups": {"attributes": ["grp"]},
                    "manifest": {"csv": "source/labels.csv"}},
        "probes": {**tiny["probes"], "edits": {"images_per_group": 0}}})
    snakemake(tmp_path, "--quiet", configs=(overlay,))
    figures = {p.name for p in (tmp_path / "results/figures").glob("*.png")}
    assert {"bars.png", "forest.png", "ecdf.png"} <= figures, figures
    assert json.loads((tmp_path / "results/metrics.json").read_text())["pair_tuples"] > 0
    html = (tmp_path / "results/report.html").read_text(encoding="utf-8")
    check_report(html, [HOSTILE])
    for name in figures:  # every figure is embedded
        assert f">{Path(name).stem}</figcaption>" in html
