"""`cropaudit init DIR`: a project of the user's own, in the snakemake-workflows layout.

What it writes, what it reads from the images to fill the configuration, and its one-line
errors. A dry run of Snakemake in the written project checks the module wiring with this
checkout's workflow; the whole audit in such a project, from an installed wheel, is the
end-to-end test (test_user_project.py).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
import yaml

from cropaudit import packaged, project
from cropaudit.cli import main
from support.workflow import run, tool


def init(capsys, *args: str | Path) -> tuple[int, str, str]:
    code = main(["init", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def config_of(root: Path) -> dict:
    return yaml.safe_load((root / "config" / "config.yaml").read_text(encoding="utf-8"))


def make_images(root: Path, names: list[str]) -> Path:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"not decoded by init")
    return root


def test_demo_project_files_and_module_wiring(tmp_path, capsys):
    root = tmp_path / "audit"
    code, out, err = init(capsys, root, "--croppers", "center", "smartcrop")
    assert code == 0, err
    assert out.splitlines()[0] == (f"cropaudit init: wrote an audit project in {root} (demo "
                                   "source, croppers: center, smartcrop)")
    assert {p.relative_to(root).as_posix() for p in root.rglob("*")
            if ".git" not in p.parts and ".dvc" not in p.parts} >= {
        "config/config.yaml", "workflow/Snakefile", "dvc.yaml", "audit-gate.yaml", "README.md",
        ".gitignore", ".dvcignore"}
    assert (root / ".git").is_dir() and (root / ".dvc" / "config").is_file()
    assert "analytics = false" in (root / ".dvc" / "config").read_text()
    config = config_of(root)
    assert config["dataset"] == {"source": "demo", "name": "demo"}
    assert config["croppers"] == ["center", "smartcrop"]
    assert config["probes"] == yaml.safe_load(packaged.default_config().read_text())["probes"]
    snakefile = (root / "workflow" / "Snakefile").read_text()
    assert "module cropaudit:" in snakefile and "use rule * from cropaudit" in snakefile
    assert "configfile: \"config/config.yaml\"" in snakefile
    code_lines = [line for line in snakefile.splitlines() if line and not line.startswith("#")]
    assert len(code_lines) <= 20
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    assert list(stages) == ["prepare", "croppers", "report", "track"]
    assert stages["prepare"]["cmd"] == "snakemake prepare --cores all --quiet"
    assert "data/demo" in stages["croppers"]["deps"]
    # Snakemake sees the installed (here: this checkout's) workflow through the module
    proc = run([tool("snakemake"), "--cores", "2", "--dry-run"], cwd=root)
    assert "prepare_data" in proc.stdout and "stats" in proc.stdout
    assert "smartcrop" in proc.stdout and "fastgaze" not in proc.stdout


def test_folder_source_reads_the_groups_from_the_paths(tmp_path, capsys):
    images = make_images(tmp_path / "photos", [
        "marked/a/1.jpg", "marked/b/2.jpg", "plain/a/3.jpg", "plain/b/4.jpg", "notes.txt"])
    root = tmp_path / "audit"
    code, _, err = init(capsys, root, "--source", "folder", "--images", images,
                        "--attributes", "feature", "cohort", "--no-vcs")
    assert code == 0, err
    assert not (root / ".git").exists()
    dataset = config_of(root)["dataset"]
    assert dataset == {"source": "folder", "name": "photos",
                       "groups": {"attributes": ["feature", "cohort"]},
                       "manifest": {"root": str(images), "pattern": "{feature}/{cohort}/*"}}
    assert config_of(root)["stats"]["aggregates"] == [
        {"name": "feature", "attribute": "feature", "first": "marked", "second": "plain"},
        {"name": "cohort", "attribute": "cohort", "first": "a", "second": "b"}]
    prepare = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]["prepare"]
    assert str(images) in prepare["deps"]  # the user's images are the data's dependency


def test_utkface_preset_fills_the_config(tmp_path, capsys):
    images = make_images(tmp_path / "UTKFace", [
        "25_0_0_20170116.jpg", "31_1_1_20170117.jpg", "40_1_3_20170118.jpg"])
    code, _, err = init(capsys, tmp_path / "audit", "--source", "folder", "--images", images,
                        "--preset", "utkface", "--no-vcs")
    assert code == 0, err
    config = config_of(tmp_path / "audit")
    assert config["dataset"]["manifest"] == {"preset": "utkface", "root": str(images),
                                             "pattern": "{age}_{gender}_{race}_*"}
    assert config["dataset"]["groups"]["attributes"] == ["race", "gender"]
    # gender's codes 0/1 are male/female: one pooled comparison; race has three values here
    assert config["stats"]["aggregates"] == [
        {"name": "gender", "attribute": "gender", "first": "female", "second": "male"}]


def test_csv_source_and_fairface_preset(tmp_path, capsys):
    table = tmp_path / "labels" / "fairface_label_val.csv"
    table.parent.mkdir()
    with table.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "age", "gender", "race", "service_test"])
        w.writerows([["val/1.jpg", "3-9", "Male", "East Asian", "True"],
                     ["val/2.jpg", "50-59", "Female", "White", "False"]])
    code, _, err = init(capsys, tmp_path / "audit", "--csv", table, "--preset", "fairface",
                        "--no-vcs")
    assert code == 0, err
    config = config_of(tmp_path / "audit")
    assert config["dataset"]["source"] == "csv"  # the preset names its source
    assert config["dataset"]["manifest"] == {"preset": "fairface", "csv": str(table),
                                             "root": str(table.parent)}
    assert config["dataset"]["name"] == "fairface_label_val"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--preset", "celeba"], 2, "--preset 'celeba': unknown preset (known: utkface, fairface)"),
        (["--source", "folder", "--preset", "fairface"], 2,
         "--preset fairface is a csv preset: use --source csv"),
        (["--source", "folder"], 2, "--images PATH: required with --source folder"),
        (["--source", "folder", "--images", "{missing}"], 2,
         "{missing}: image folder not found (--images)"),
        (["--source", "csv"], 2, "--csv FILE: required with --source csv"),
        (["--source", "web"], 2, "--source 'web': unknown source (known: demo, folder, csv)"),
        (["--images", "{missing}"], 2, "--images: only with --source folder or csv"),
        (["--croppers", "nope"], 2, "config.yaml: croppers: Value error, unknown cropper 'nope'"),
    ],
)
def test_bad_options_are_one_line(tmp_path, capsys, args, code, message):
    missing = str(tmp_path / "missing")
    args = [a.format(missing=missing) for a in args]
    got, out, err = init(capsys, tmp_path / "audit", *args, "--no-vcs")
    assert got == code and not out
    assert len(err.splitlines()) == 1
    assert err.startswith("cropaudit init: error: ")
    assert message.format(missing=missing) in err
    assert not (tmp_path / "audit").exists()


def test_folder_without_matching_files(tmp_path, capsys):
    images = make_images(tmp_path / "flat", ["a.jpg", "b.jpg"])
    code, _, err = init(capsys, tmp_path / "audit", "--source", "folder", "--images", images)
    assert code == 2
    assert err.strip() == (f"cropaudit init: error: {images}: no file matches "
                           "'{race}/{gender}/*' (name the layout with --pattern and --attributes)")


def test_csv_without_the_attribute_columns(tmp_path, capsys):
    table = tmp_path / "m.csv"
    table.write_text("path,label\n1.jpg,x\n")
    code, _, err = init(capsys, tmp_path / "audit", "--source", "csv", "--csv", table)
    assert code == 2
    assert err.strip() == (f"cropaudit init: error: {table}: no column 'race' (has: path, "
                           "label; see --attributes)")


def test_a_non_empty_dir_is_refused(tmp_path, capsys):
    root = tmp_path / "audit"
    root.mkdir()
    (root / "mine.txt").write_text("keep me")
    code, _, err = init(capsys, root)
    assert code == 2
    assert err.strip() == (f"cropaudit init: error: {root}: exists and is not empty (cropaudit "
                           "init writes a new project; name a new or empty folder)")
    assert [p.name for p in root.iterdir()] == ["mine.txt"]
    (tmp_path / "file").write_text("")
    code, _, err = init(capsys, tmp_path / "file")
    assert code == 2 and err.strip().endswith("file: exists and is not a folder")


def test_an_unwritable_dir_is_refused(tmp_path, capsys):
    parent = tmp_path / "locked"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        if os.access(parent, os.W_OK):  # root writes anywhere: a folder no one can write in
            parent = Path("/proc/self")
        code, _, err = init(capsys, parent / "audit")
        assert code == 2
        assert err.strip().startswith(f"cropaudit init: error: DIR {parent / 'audit'}: "
                                      "not writable")
    finally:
        (tmp_path / "locked").chmod(0o700)


def test_init_inside_a_git_work_tree_makes_a_dvc_subdirectory_project(tmp_path, capsys):
    repo = tmp_path / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], cwd=repo)
    code, _, err = init(capsys, repo / "audit")
    assert code == 0, err
    assert not (repo / "audit" / ".git").exists()
    assert (repo / "audit" / ".dvc").is_dir()


def test_aggregates_pool_two_valued_attributes_only():
    assert project.aggregates({"gender": {"male", "female"}, "race": {"a", "b", "c"}}) == [
        {"name": "gender", "attribute": "gender", "first": "female", "second": "male"}]
