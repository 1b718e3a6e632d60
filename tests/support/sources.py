"""Small image collections laid out like each documented dataset source, with their params.

Pictures are the demo's synthetic portraits (a photographic face on a drawn body), so the face
detector and the saliency stages have something real to work on; 2 x 2 groups (race, gender),
``per_group`` images each. :func:`source_params` returns the ``dataset`` (and ``stats``)
overrides of params.yaml that point the workflow at the files it wrote.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import numpy as np

from cropaudit.datasets.demo import draw_layout, draw_portrait
from support.wikimedia import FakeWikimedia

#: Every source except the demo, as the README lists them.
SOURCES = ("folder", "csv", "fairface", "utkface", "wikiceleb")
RACES, GENDERS = ("black", "white"), ("female", "male")
#: The group aggregates of a race x gender dataset (params.yaml's are the demo's attributes).
AGGREGATES = [
    {"name": "race", "attribute": "race", "first": "black", "second": "white"},
    {"name": "gender", "attribute": "gender", "first": "female", "second": "male"},
]
#: Codes and labels of the presets' own files.
UTK_GENDER, UTK_RACE = {"male": 0, "female": 1}, {"white": 0, "black": 1}
FAIRFACE = {"black": "Black", "white": "White", "female": "Female", "male": "Male"}
#: Wikidata items of the packaged mapping (sex or gender; ethnic group).
WIKIDATA = {"female": "Q6581072", "male": "Q6581097", "black": "Q49085", "white": "Q42406"}


def portrait_jpeg(seed: int) -> bytes:
    """One synthetic portrait as JPEG bytes (distinct per seed)."""
    import io

    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    draw_portrait(draw_layout(rng), rng, marked=bool(seed % 2)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def members(per_group: int) -> list[tuple[str, str, int]]:
    """(race, gender, seed) of every image of the collection."""
    out = []
    for race in RACES:
        for gender in GENDERS:
            out += [(race, gender, len(out) + i) for i in range(per_group)]
    return out


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def source_params(kind: str, root: Path, per_group: int = 3,
                  fake: FakeWikimedia | None = None) -> dict[str, Any]:
    """Write a ``kind`` collection under ``root``; its params.yaml overrides."""
    manifest: dict[str, Any]
    source = kind
    people = members(per_group)
    if kind == "folder":
        for race, gender, seed in people:
            _write(root / race / gender / f"p{seed:03d}.jpg", portrait_jpeg(seed))
        identity = {a: {v: v for v in values} for a, values in (("race", RACES),
                                                                 ("gender", GENDERS))}
        manifest = {"root": str(root), "values": identity}
    elif kind == "csv":
        rows = []
        for race, gender, seed in people:
            _write(root / "img" / f"{seed:03d}.jpg", portrait_jpeg(seed))
            rows.append({"path": f"img/{seed:03d}.jpg", "race": race.upper(),
                         "gender": gender[0].upper()})
        _write_csv(root / "labels.csv", rows)
        manifest = {"csv": str(root / "labels.csv"), "values": {
            "race": {r.upper(): r for r in RACES}, "gender": {g[0].upper(): g for g in GENDERS}}}
    elif kind == "fairface":
        source = "csv"
        rows = []
        for race, gender, seed in people:
            _write(root / "train" / f"{seed + 1}.jpg", portrait_jpeg(seed))
            rows.append({"file": f"train/{seed + 1}.jpg", "age": "20-29",
                         "gender": FAIRFACE[gender], "race": FAIRFACE[race],
                         "service_test": "True"})
        _write_csv(root / "fairface_label_train.csv", rows)
        manifest = {"preset": "fairface", "csv": str(root / "fairface_label_train.csv")}
    elif kind == "utkface":
        source = "folder"
        for race, gender, seed in people:
            name = f"{20 + seed}_{UTK_GENDER[gender]}_{UTK_RACE[race]}_2017010915055{seed:04d}"
            _write(root / f"{name}.jpg.chip.jpg", portrait_jpeg(seed))
        manifest = {"preset": "utkface", "root": str(root)}
    elif kind == "wikiceleb":
        if fake is None:
            raise ValueError("the wikiceleb source needs a running FakeWikimedia")
        for race, gender, seed in people:
            fake.add_person(f"Q{900 + seed}", f"Person_{seed:03d}.jpg", WIKIDATA[gender],
                            WIKIDATA[race], portrait_jpeg(seed))
        return {"dataset": {**_groups(), "source": "wikiceleb", "wikiceleb": {
            "sparql_endpoint": f"{fake.base}/sparql", "commons_api": f"{fake.base}/w/api.php",
            "http": {"contact": "tests@example.org", "timeout_s": 5, "max_attempts": 2,
                     "backoff_initial_s": 0.01, "backoff_max_s": 0.05, "max_mbps": None},
        }}, "stats": {"aggregates": AGGREGATES}}
    else:
        raise ValueError(f"unknown source {kind!r}")
    return {"dataset": {**_groups(), "source": source, "name": kind, "manifest": manifest},
            "stats": {"aggregates": AGGREGATES}}


def _groups() -> dict[str, Any]:
    return {"groups": {"attributes": ["race", "gender"], "min_group_size": 2}}


def _write_csv(path: Path, rows: list[dict[str, str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
