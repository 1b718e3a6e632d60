"""Hostile and broken inputs end with one line and a documented exit code (issue 15, 11/13/16).

Run against the real CLI (in-process or as a subprocess where the failure is about the
process' own stdout), real YAML files and a real Snakemake.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cropaudit.cli import EXIT_BROKEN_PIPE, EXIT_ENVIRONMENT, EXIT_INPUT, main
from cropaudit.config import load_params
from cropaudit.errors import ConfigError, InputFileError
from cropaudit.untrusted import csv_cell
from support.workflow import snakemake, tool_env, write_yaml

#: 10 levels of 9 aliases each: under 400 bytes that expand to 9**10 leaves when compared.
ALIAS_BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{','.join([f'*{p}'] * 9)}]\n"
    for p, n in zip("abcdefghij", "bcdefghijk", strict=True)
)


def one_line(err: str) -> str:
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    path = tmp_path / "photo.png"
    Image.fromarray(rng.integers(0, 255, size=(60, 80, 3), dtype=np.uint8)).save(path)
    return path


# -- params.yaml -------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "fragment"), [
    (ALIAS_BOMB, "line 2 YAML alias *a is not allowed"),
    ("seed: 1\nseed: 2\n", "line 2 duplicate key 'seed'"),
    ("sampling:\n  n: true\n", "sampling.n: Input should be a valid integer"),
    ("dataset:\n  name: ../..\n", "dataset.name: String should match pattern"),
    ("dataset:\n  name: /tmp/x\n", "dataset.name: String should match pattern"),
    ("tracking:\n  experiment: 5\n", "tracking.experiment: Input should be a valid string"),
    ("seed: -1\n", "seed: Input should be greater than or equal to 0"),
])
def test_params_file_is_refused_with_one_line(tmp_path: Path, text: str, fragment: str) -> None:
    p = tmp_path / "params.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as err:
        load_params(p)
    assert str(err.value).startswith(f"{p}:") and fragment in str(err.value), err.value


def test_floats_still_accept_integers_and_anchors_alone_are_harmless(tmp_path: Path) -> None:
    p = tmp_path / "params.yaml"
    p.write_text("app:\n  max_upload_mb: &mb 20\nseed: 0\n")
    params = load_params(p)
    assert params.app.max_upload_mb == 20.0 and params.seed == 0


def test_a_star_inside_a_value_is_not_an_alias(tmp_path: Path) -> None:
    """Texts with a ``*`` go through the pure-Python loader's alias check; the value stays."""
    p = tmp_path / "params.yaml"
    p.write_text("cropper_options:\n  command:\n    template: 'prog *.jpg {image}'\n")
    assert load_params(p).cropper_options["command"]["template"] == "prog *.jpg {image}"


def test_negative_seed_stops_prepare_data_before_it_writes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    Path("params.yaml").write_text("seed: -1\n")
    code = main(["prepare-data", "--out", "data/demo/images.parquet"])
    assert code == EXIT_INPUT
    assert "params.yaml: seed:" in one_line(capsys.readouterr().err)
    assert not Path("data").exists()


def test_snakemake_refuses_an_alias_bomb_at_once(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("report: {title: x}\n" + ALIAS_BOMB)
    assert len(ALIAS_BOMB) < 400
    # Expanded, the configuration would take minutes to compare or validate; the timeout is
    # only a guard against hanging the suite, not a speed target.
    proc = snakemake(tmp_path / "wf", "-n", configs=(bomb,), check=False)
    assert proc.returncode != 0
    assert "bomb.yaml: line " in proc.stderr and "YAML alias *a is not allowed" in proc.stderr


def test_snakemake_shows_the_end_of_the_failed_jobs_log(tmp_path: Path) -> None:
    root = tmp_path / "wf"
    overlay = write_yaml(tmp_path / "unknown-group.yaml", {
        "croppers": ["center"],
        "dataset": {"demo": {"images_per_group": 3}},
        "sampling": {"groups": ["marked_a", "purple_x"]},  # valid YAML, unknown group
    })
    proc = snakemake(root, "results/pairs.parquet", configs=(overlay,), check=False)
    assert proc.returncode != 0
    job_log = (root / "logs/sample_pairs.log").read_text().strip().splitlines()
    assert job_log and job_log[-1].startswith("cropaudit sample-pairs: error:")
    assert "purple_x" in job_log[-1]
    shown = proc.stderr[proc.stderr.index("cropaudit: logs/sample_pairs.log ends with:"):]
    assert f"    {job_log[-1]}" in shown
    assert "cropaudit: a step failed; the end of its log is above" in shown


# -- one line per failure, with its exit code --------------------------------------------------


def test_gather_with_a_corrupt_parquet_is_one_line(tmp_path: Path, capsys) -> None:
    shard = tmp_path / "shard-0.parquet"
    shard.write_bytes(b"PAR1 this is not a parquet file PAR1")
    code = main(["gather", "--out", str(tmp_path / "out.parquet"), str(shard)])
    assert code == EXIT_INPUT
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"cropaudit gather: error: {shard}: not a readable parquet file")
    assert not (tmp_path / "out.parquet").exists()


def test_unwritable_out_dir_fails_before_the_model_loads(tmp_path, photo, capsys) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    # The model path does not exist either: the out-dir error must come first.
    code = main(["saliency", str(photo), "--model", str(tmp_path / "missing.vxm"),
                 "--out-dir", str(blocker / "out")])
    assert code == EXIT_INPUT
    line = one_line(capsys.readouterr().err)
    assert f"--out-dir {blocker / 'out'}: {blocker} is not a folder" in line
    assert not (blocker.parent / "out").exists()


def _cropaudit(*argv: str) -> list[str]:
    return [sys.executable, "-m", "cropaudit", *argv]


def test_stdout_to_a_full_disk_is_one_line(photo: Path) -> None:
    with open("/dev/full", "w") as full:
        proc = subprocess.run(_cropaudit("saliency", "--cropper", "center", str(photo)),
                              stdout=full, stderr=subprocess.PIPE, text=True, env=tool_env(),
                              timeout=120)
    assert proc.returncode == EXIT_ENVIRONMENT
    line = one_line(proc.stderr)
    assert line == ("cropaudit saliency: error: cannot write to standard output: "
                    "No space left on device")


def test_a_closed_pipe_ends_quietly(photo: Path) -> None:
    proc = subprocess.Popen(
        _cropaudit("saliency", "--cropper", "center", "--all-points", str(photo), str(photo)),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=tool_env(),
    )
    proc.stdout.close()  # like `| head` after its lines: every later write gets EPIPE
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == EXIT_BROKEN_PIPE
    assert b"Traceback" not in err and b"BrokenPipe" not in err, err.decode()


# -- output hazards ----------------------------------------------------------------------------


def test_newline_in_a_file_name_cannot_forge_result_lines(tmp_path, photo, capsys) -> None:
    odd = tmp_path / "evil\n0 0 1 1\n.png"
    odd.write_bytes(photo.read_bytes())
    assert main(["saliency", "--cropper", "center", str(photo), str(odd)]) == 0
    out = capsys.readouterr().out.splitlines()
    headers = [line for line in out if line.startswith("#")]
    assert headers == [f"# {photo}", f"# {tmp_path}/evil\\n0 0 1 1\\n.png"]
    assert "0 0 1 1" not in out  # the name's second line is not a result line
    assert len(out) == 2 * (1 + 1 + 5)  # per image: header, salient point, 5 crops


def test_a_newline_in_a_failed_image_name_stays_on_its_error_line(tmp_path, photo,
                                                                   capsys) -> None:
    """Issue 25, item 8: a name with a newline could forge a second error line."""
    forged = tmp_path / "evil\ncropaudit saliency: error: forged.png"
    forged.write_bytes(b"not an image at all")
    assert main(["saliency", "--cropper", "center", str(photo), str(forged)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        f"cropaudit saliency: error: '{tmp_path}/evil\\ncropaudit saliency: error: "
        "forged.png': not a recognised image file",
        "cropaudit saliency: 1 of 2 images failed",
    ]


def test_a_newline_in_a_file_name_cannot_break_a_fatal_error_line(tmp_path, capsys) -> None:
    shard = tmp_path / "shard-0\ncropaudit gather: error: forged"
    shard.write_bytes(b"PAR1 not parquet PAR1")
    assert main(["gather", "--out", str(tmp_path / "out.parquet"), str(shard)]) == EXIT_INPUT
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"cropaudit gather: error: {tmp_path}/shard-0\\ncropaudit gather")


def test_log_lines_stay_one_line_whatever_a_group_is_called(tmp_path: Path) -> None:
    """A group label (from a CSV) with a newline, dropped for being small, is logged."""
    for i in range(3):
        Image.new("RGB", (32, 24), (80 * i, 10, 20)).save(tmp_path / f"{i}.png")
    (tmp_path / "labels.csv").write_text(
        'path,grp\n0.png,big\n1.png,big\n2.png,"tiny\nWARNING forged: line"\n')
    (tmp_path / "params.yaml").write_text(
        "dataset:\n  source: csv\n  groups:\n    attributes: [grp]\n    min_group_size: 2\n"
        "  manifest:\n    csv: labels.csv\n")
    proc = subprocess.run(_cropaudit("prepare-data", "--out", "data/csv/images.parquet"),
                          cwd=tmp_path, capture_output=True, text=True, env=tool_env(),
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert not any(line.startswith("WARNING forged") for line in lines), lines
    assert any("dropping group tiny\\nWARNING forged: line: 1 images" in line
               for line in lines), lines


@pytest.mark.parametrize(("make", "problem"), [
    (lambda p: p.symlink_to(p), "symbolic link loop"),
    (lambda p: p.symlink_to(p.with_name("gone.png")), "broken symbolic link"),
    (lambda p: None, "no such file"),
    (lambda p: p.mkdir(), "not a regular file"),
])
def test_a_path_that_is_not_a_file_says_why(tmp_path, capsys, make, problem) -> None:
    """Issue 25, item 9: a symbolic link loop was reported as "no such file"."""
    path = tmp_path / "input.png"
    make(path)
    assert main(["saliency", "--cropper", "center", str(path)]) == 1
    assert capsys.readouterr().err.splitlines()[0] == (
        f"cropaudit saliency: error: {path}: {problem}")
    from cropaudit.imaging.source import open_image

    with pytest.raises(InputFileError, match=f"^{path}: {problem}$"):
        open_image(path, 10**6)


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-2", "'-2"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("photo.jpg", "photo.jpg"),
    (3, 3),
])
def test_spreadsheet_formulas_are_escaped(cell, safe) -> None:
    assert csv_cell(cell) == safe


def test_excluded_csv_escapes_formula_like_file_names(tmp_path: Path) -> None:
    from cropaudit.config import parse_params
    from cropaudit.datasets import manifest

    root = tmp_path / "fairface"
    for i, rel in enumerate(("train/1.jpg", "train/2.jpg")):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (32, 24), (i * 90, 10, 20)).save(root / rel)
    (root / "labels.csv").write_text(
        "file,age,gender,race\n"
        "train/1.jpg,20-29,Male,Black\ntrain/2.jpg,3-9,Female,White\n"
        '"=HYPERLINK(""evil.example"",""x"")",30-39,Male,White\n'
        "@SUM(1+1).jpg,30-39,Male,White\n"
    )
    params = parse_params({"dataset": {
        "source": "csv", "name": "mine", "groups": {"attributes": ["race", "gender"]},
        "manifest": {"preset": "fairface", "csv": str(root / "labels.csv")},
    }})
    manifest.build(params, tmp_path / "data/mine/images.parquet")
    rows = pd.read_csv(tmp_path / "data/mine/excluded.csv", dtype=str, keep_default_na=False)
    assert sorted(rows["image_id"]) == ["'=HYPERLINK(\"evil.example\",\"x\")",
                                        "'@SUM(1+1).jpg"]
    assert not rows.map(lambda v: v.startswith(("=", "+", "-", "@"))).any().any()


@pytest.mark.parametrize("argv", [["--help"], ["gather", "--help"]])
def test_exit_codes_are_documented_in_help(argv) -> None:
    proc = subprocess.run(_cropaudit(*argv), capture_output=True, text=True,
                          env=tool_env(), timeout=60)
    assert proc.returncode == 0
    for code in ("0 ", "1 ", "2 ", "3 ", "4 ", "130", "141"):
        assert f"\n  {code}" in proc.stdout

