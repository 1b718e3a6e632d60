"""Folder and CSV sources, with the FairFace and UTKFace presets, on generated image folders."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from PIL import Image

from cropaudit.config import parse_params
from cropaudit.datasets import manifest
from cropaudit.datasets.table import image_path, read_table
from cropaudit.datasets.validate import validate_table
from cropaudit.errors import ConfigError, DatasetError, InputFileError

_colors = iter(range(1, 10_000))


def save_image(path: Path, size: tuple[int, int] = (32, 24), fmt: str = "JPEG") -> bytes:
    """A real image with unique pixels (so every file has its own sha256)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    c = next(_colors)
    img = Image.new("RGB", size, (c % 256, (c * 7) % 256, (c * 13) % 256))
    img.putpixel((0, 0), (c // 256, 0, 0))
    img.save(path, fmt)
    return path.read_bytes()


def run(tmp_path: Path, source: str, manifest_params: dict[str, Any],
        groups: dict[str, Any] | None = None) -> pd.DataFrame:
    params = parse_params({"dataset": {
        "source": source, "name": "mine",
        "groups": {"attributes": ["race", "gender"], **(groups or {})},
        "manifest": manifest_params,
    }})
    return manifest.build(params, tmp_path / "data" / "mine" / "images.parquet")


def excluded(tmp_path: Path) -> dict[str, str]:
    df = pd.read_csv(tmp_path / "data" / "mine" / "excluded.csv", dtype=str)
    return dict(zip(df.image_id, df.reason, strict=True))


def test_folder_layout_checks_every_file(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    data = {rel: save_image(root / rel) for rel in (
        "black/female/a.jpg", "black/female/b.jpg", "black/male/c.jpg",
        "white/female/d.jpg", "white/male/e.jpg",
    )}
    data["white/male/f.png"] = save_image(root / "white/male/f.png", fmt="PNG")
    (root / "white/male/z_copy.jpg").write_bytes(data["white/male/e.jpg"])
    (root / "white/male/broken.jpg").write_bytes(data["black/male/c.jpg"][:200])
    (root / "white/male/notes.txt").write_text("taken in 2019")
    save_image(root / "purple/female/g.jpg")
    (root / "README.md").write_text("my photos")

    df = run(tmp_path, "folder", {
        "root": str(root), "values": {"race": {"black": "black", "white": "white"}},
    })

    assert sorted(df.image_id) == sorted(data)
    rows = df.set_index("image_id")
    assert rows.loc["black/female/a.jpg", "group"] == "black_female"
    assert rows.loc["white/male/f.png", "gender"] == "male"
    table = tmp_path / "data/mine/images.parquet"
    for rel, raw in data.items():
        copied = image_path(table, rows.loc[rel, "path"])
        assert copied.is_relative_to(tmp_path / "data/mine")  # copied in: versioned together
        assert copied.read_bytes() == raw
        assert rows.loc[rel, "sha256"] == hashlib.sha256(raw).hexdigest()
    assert (rows.loc["white/female/d.jpg", ["width", "height"]] == [32, 24]).all()
    assert (df.source == "folder").all()
    assert excluded(tmp_path) == {
        "README.md": "unmatched path: not {race}/{gender}/*",
        "purple/female/g.jpg": "unknown value: race 'purple'",
        "white/male/broken.jpg": "undecodable image: cannot open image (Truncated File Read)",
        "white/male/z_copy.jpg": "duplicate: same sha256 as white/male/e.jpg",
        "white/male/notes.txt": "not an image: unrecognised content",
    }
    assert len(read_table(table)) == 6


def test_utkface_preset_decodes_file_names(tmp_path: Path) -> None:
    root = tmp_path / "UTKFace"
    for name in (
        "25_0_1_20170109150557335.jpg.chip.jpg",  # male, black
        "30_1_0_20170103181213532.jpg.chip.jpg",  # female, white
        "41_1_1_20170117154911225.jpg.chip.jpg",  # female, black
        "50_0_3_20170119205621263.jpg.chip.jpg",  # male, indian
        "61_1_4_20170120134029394.jpg.chip.jpg",  # female, others
        "39_1_20170116174525125.jpg.chip.jpg",    # race missing (as in the real dataset)
        "22_1_7_20170116174525125.jpg.chip.jpg",  # no race code 7
    ):
        save_image(root / name)
    df = run(tmp_path, "folder", {"preset": "utkface", "root": str(root)})
    got = {r.image_id.split("_2017")[0]: (r.age, r.race, r.gender, r.group)
           for r in df.itertuples()}
    assert got == {
        "25_0_1": ("25", "black", "male", "black_male"),
        "30_1_0": ("30", "white", "female", "white_female"),
        "41_1_1": ("41", "black", "female", "black_female"),
        "50_0_3": ("50", "indian", "male", "indian_male"),
        "61_1_4": ("61", "others", "female", "others_female"),
    }
    reasons = excluded(tmp_path)
    assert reasons["39_1_20170116174525125.jpg.chip.jpg"].startswith("unmatched path")
    assert reasons["22_1_7_20170116174525125.jpg.chip.jpg"] == "unknown value: race '7'"


def test_fairface_preset_reads_the_label_csv(tmp_path: Path) -> None:
    root = tmp_path / "fairface"
    for rel in ("train/1.jpg", "train/2.jpg", "train/3.jpg", "val/1.jpg"):
        save_image(root / rel, size=(224, 224))
    (root / "fairface_label_train.csv").write_text(
        "file,age,gender,race,service_test\n"
        "train/1.jpg,20-29,Male,Black,True\n"
        "train/2.jpg,3-9,Female,Latino_Hispanic,False\n"
        "val/1.jpg,50-59,Female,East Asian,True\n"
        "train/404.jpg,30-39,Male,White,True\n"
        "train/3.jpg,30-39,Male,Martian,True\n"
    )
    df = run(tmp_path, "csv", {"preset": "fairface",
                               "csv": str(root / "fairface_label_train.csv")})
    rows = df.set_index("image_id")
    assert sorted(rows.index) == ["train/1.jpg", "train/2.jpg", "val/1.jpg"]
    assert rows.loc["train/2.jpg", "race"] == "latino_hispanic"
    assert rows.loc["val/1.jpg", "group"] == "east_asian_female"
    assert rows.loc["train/1.jpg", "age"] == "20-29"  # kept by the preset
    assert "service_test" not in df.columns
    assert (df.source == "csv").all()
    assert excluded(tmp_path) == {
        "train/404.jpg": "missing file",
        "train/3.jpg": "unknown value: race 'Martian'",
    }


def test_fairface_preset_is_a_csv_preset(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"fairface is a csv preset; set dataset\.source: csv"):
        run(tmp_path, "folder", {"preset": "fairface", "root": str(tmp_path)})


def test_csv_manifest_with_provenance_and_references(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    a, b = save_image(elsewhere / "a.jpg"), save_image(tmp_path / "abs" / "b.jpg")
    manifest_csv = elsewhere / "manifest.csv"
    manifest_csv.write_text(
        "path,race,gender,license,artist\n"
        f"a.jpg,black,female,CC0,Me\n{tmp_path / 'abs' / 'b.jpg'},white,male,,\n"
    )
    df = run(tmp_path, "csv", {"csv": str(manifest_csv), "materialize": "reference"})
    rows = df.set_index("image_id")
    table = tmp_path / "data/mine/images.parquet"
    assert image_path(table, rows.loc["a.jpg", "path"]).resolve() == (elsewhere / "a.jpg")
    assert image_path(table, rows.loc["a.jpg", "path"]).read_bytes() == a
    assert rows.loc["a.jpg", "license"] == "CC0"
    assert rows.loc["a.jpg", "artist"] == "Me"
    b_row = rows.loc[str(tmp_path / "abs" / "b.jpg")]
    assert image_path(table, b_row.path).read_bytes() == b
    assert not (tmp_path / "data/mine/images").exists()


def test_csv_missing_column_names_the_columns(tmp_path: Path) -> None:
    (tmp_path / "m.csv").write_text("path,race\na.jpg,black\n")
    match = r"m.csv: missing column\(s\) gender \(has path, race\)"
    with pytest.raises(InputFileError, match=match):
        run(tmp_path, "csv", {"csv": str(tmp_path / "m.csv")})


@pytest.mark.parametrize("mode", ["copy", "hardlink", "symlink"])
def test_materialize_modes_and_rerun(tmp_path: Path, mode: str) -> None:
    root = tmp_path / "photos"
    raw = save_image(root / "black/female/a.jpg")
    first = run(tmp_path, "folder", {"root": str(root), "materialize": mode})
    placed = tmp_path / "data/mine" / first.path.iloc[0]
    assert placed.read_bytes() == raw
    if mode == "symlink":
        assert placed.is_symlink()
    if mode == "hardlink":
        assert os.stat(placed).st_ino == os.stat(root / "black/female/a.jpg").st_ino
    second = run(tmp_path, "folder", {"root": str(root), "materialize": mode})
    pd.testing.assert_frame_equal(first, second)


def test_output_folder_inside_root_is_not_read_back(tmp_path: Path) -> None:
    save_image(tmp_path / "black/female/a.jpg")
    params = {"root": str(tmp_path), "pattern": "{race}/{gender}/*.jpg"}
    run(tmp_path, "folder", params)  # writes data/mine/images/black/female/a.jpg under root
    df = run(tmp_path, "folder", params)
    assert list(df.image_id) == ["black/female/a.jpg"]
    assert not any(k.startswith("data/") for k in excluded(tmp_path))


def test_small_groups_dropped_and_nothing_left_is_one_error(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    for rel in ("black/female/a.jpg", "black/female/b.jpg", "white/male/c.jpg"):
        save_image(root / rel)
    df = run(tmp_path, "folder", {"root": str(root)}, groups={"min_group_size": 2})
    assert set(df.group) == {"black_female"}
    assert excluded(tmp_path) == {
        "white/male/c.jpg": "small group: white_male has 1 < min_group_size 2"
    }
    with pytest.raises(DatasetError, match=r"no usable images \(3 excluded: small group 3; see "):
        run(tmp_path, "folder", {"root": str(root)}, groups={"min_group_size": 3})


def test_pattern_must_name_the_group_attributes(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"has no \{gender\} placeholder"):
        run(tmp_path, "folder", {"root": str(tmp_path), "pattern": "{race}/*"})


def test_nested_pattern(tmp_path: Path) -> None:
    save_image(tmp_path / "photos/part1/x/black/female/a.jpg")
    df = run(tmp_path, "folder", {"root": str(tmp_path / "photos"),
                                  "pattern": "**/{race}/{gender}/*"})
    assert list(df.group) == ["black_female"]


def test_validate_table_rejects_broken_tables(tmp_path: Path) -> None:
    root = tmp_path / "photos"
    save_image(root / "black/female/a.jpg")
    save_image(root / "white/male/b.jpg")
    good = run(tmp_path, "folder", {"root": str(root)})
    validate_table(good, ["race", "gender"])
    bad_sha = good.assign(sha256="xyz")
    with pytest.raises(DatasetError, match="sha256"):
        validate_table(bad_sha, ["race", "gender"])
    with pytest.raises(DatasetError, match="duplicate image_id"):
        validate_table(good.assign(image_id="same"), ["race", "gender"])
    with pytest.raises(DatasetError, match="group 'x' != attributes joined"):
        validate_table(good.assign(group="x"), ["race", "gender"])
    with pytest.raises(DatasetError, match="missing columns gender"):
        validate_table(good.drop(columns="gender"), ["race", "gender"])
