"""Human review of the gaze analysis: sheets, the template, reading labels back, kappa."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cropaudit.cli import main
from cropaudit.engine.center import CenterModel
from cropaudit.errors import InputFileError
from cropaudit.faces.geometry import Box
from cropaudit.gaze.analysis import Region
from cropaudit.gaze.review import agreement, cohen_kappa, draw_sheet, read_review, template
from cropaudit.geometry.crops import Crop

RATIOS = [0.56, 1.0]


def test_kappa_of_a_two_by_two_table_matches_the_hand_computation():
    # p_o = (20 + 15) / 50 = 0.7; margins rows 25/25, columns 30/20:
    # p_e = (25·30 + 25·20) / 50² = 0.5; kappa = (0.7 − 0.5) / (1 − 0.5) = 0.4
    k = cohen_kappa(np.array([[20, 5], [10, 15]]))
    assert k.observed == pytest.approx(0.7) and k.expected == pytest.approx(0.5)
    assert k.kappa == pytest.approx(0.4)
    assert k.low < 0.4 < k.high and k.se > 0


def test_kappa_of_a_three_by_three_table_matches_the_hand_computation():
    table = np.array([[10, 2, 0], [3, 8, 1], [0, 1, 5]])
    # n = 30, p_o = 23/30; rows 12, 12, 6; columns 13, 11, 6
    # p_e = (12·13 + 12·11 + 6·6) / 900 = 324 / 900 = 0.36
    k = cohen_kappa(table)
    assert k.kappa == pytest.approx((23 / 30 - 0.36) / (1 - 0.36))
    assert cohen_kappa(np.eye(3) * 4).kappa == pytest.approx(1.0)


def test_kappa_is_undefined_when_both_raters_use_one_category():
    k = cohen_kappa(np.array([[6, 0], [0, 0]]))
    assert np.isnan(k.kappa) and k.observed == 1.0


@pytest.fixture
def labels() -> pd.DataFrame:
    return pd.DataFrame({
        "image_id": ["a", "b", "c", "d"],
        "max_on_face": ["face", "elsewhere", "face", "no_face"],
        "crop_0.56": ["full", "none", "partial", "no_face"],
        "crop_1": ["full", "full", "full", "no_face"],
        "other_salient_region": ["no", "yes", "yes", "no_face"],
    }).set_index("image_id")


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_template_has_one_empty_column_per_question(labels):
    sheets = pd.DataFrame({"image_id": ["b", "a"], "sheet": ["sheets/b.png", "sheets/a.png"]})
    t = template(sheets, RATIOS)
    assert list(t.columns) == ["image_id", "sheet", "max_on_face", "crop_0.56", "crop_1",
                               "other_salient_region", "reviewer", "notes"]
    assert (t.iloc[:, 2:] == "").all().all() and list(t["image_id"]) == ["b", "a"]


def test_filled_review_is_read_back_and_normalised(tmp_path, labels):
    path = _write(tmp_path / "review.csv",
                  "image_id,sheet,max_on_face,crop_0.56,crop_1,other_salient_region,notes\n"
                  "a,s,Face,FULL,full,no,ok\n"
                  "b,s,elsewhere,,full,yes,\n"
                  "c,s,,,,,not reviewed yet\n"
                  "d,s,No face,no-face,,,\n")
    human = read_review(path, labels, RATIOS)
    assert list(human.index) == ["a", "b", "d"]
    assert human.loc["a", "max_on_face"] == "face" and human.loc["d", "crop_0.56"] == "no_face"
    assert pd.isna(human.loc["b", "crop_0.56"])
    summary, confusion = agreement(human, labels, RATIOS)
    row = summary.set_index("question").loc["max_on_face"]
    assert row["n"] == 3 and row["agree"] == 3 and row["kappa"] == pytest.approx(1.0)
    crop = summary.set_index("question").loc["crop_0.56"]
    assert crop["n"] == 2  # b left blank
    cell = confusion[(confusion["question"] == "crop_1") & (confusion["human"] == "full")]
    assert cell.set_index("automatic")["count"].to_dict() == {"full": 2}


#: Every question of RATIOS: a review file must keep them all (a missing one is refused).
HEADER = "image_id,max_on_face,crop_0.56,crop_1,other_salient_region\n"


@pytest.mark.parametrize(("text", "message"), [
    (HEADER + "a,face,,,\nzz,face,,,\n",
     "row 3: image_id 'zz' is not among the gaze analysis' images"),
    (HEADER + "a,face,,,\nb,face,,,\na,elsewhere,,,\n", "row 4: image_id 'a' repeats row 2"),
    (HEADER + "a,maybe,,full,\nb,face,,half,\n",
     "row 2: max_on_face: 'maybe' is not one of face, elsewhere, no_face \\(and 1 more\\)"),
    (HEADER + ",face,,,\n", "row 2: image_id is empty"),
    ("image_id,notes\na,hello\n", "missing column"),
    ("max_on_face,crop_0.56,crop_1,other_salient_region\nface,,,\n",
     "missing column\\(s\\) image_id"),
    ("image_id,max_on_face,crop_0.56,other_salient_region\na,face,,\n",
     "missing column\\(s\\) crop_1 \\("),
    ("image_id,max_on_face,crop_0.56,crop_one,other_salient_region\na,face,,full,\n",
     "missing column\\(s\\) crop_1; unknown column\\(s\\) crop_one"),
    (HEADER + "a,,,,\nb,,,,\n", "no labels filled in yet"),
    ("", "not a readable CSV file"),
])
def test_malformed_reviews_are_refused_with_one_line_naming_the_row(tmp_path, labels, text,
                                                                    message):
    path = _write(tmp_path / "review.csv", text)
    with pytest.raises(InputFileError, match=message) as err:
        read_review(path, labels, RATIOS)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_gaze_import_command_reports_agreement(tmp_path, labels, capsys):
    labels.reset_index().to_csv(tmp_path / "labels.csv", index=False)
    review = _write(tmp_path / "review.csv",
                    HEADER + "a,face,,full,\nb,face,,full,\nc,face,,none,\n")
    params = _write(tmp_path / "params.yaml", "crops:\n  aspect_ratios: [0.56, 1.0]\n")
    code = main(["gaze-import", str(review), "--params", str(params), "--labels",
                 str(tmp_path / "labels.csv"), "--out-dir", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert code == 0
    assert "3 reviewed image(s)" in out and "max_on_face" in out
    agreement_table = pd.read_csv(tmp_path / "out/agreement.csv").set_index("question")
    # max_on_face: human face/face/face vs auto face/elsewhere/face -> 2 of 3 agree
    assert agreement_table.loc["max_on_face", "agree"] == 2
    assert (tmp_path / "out/confusion.csv").is_file()
    bad = _write(tmp_path / "bad.csv", HEADER + "q,face,,,\n")
    code = main(["gaze-import", str(bad), "--params", str(params), "--labels",
                 str(tmp_path / "labels.csv")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "row 2" in err


def test_a_review_sheet_is_drawn(tmp_path):
    rgb = np.zeros((300, 200, 3), np.uint8)
    rgb[50:120, 60:140] = 200
    result = next(iter(CenterModel().predict([rgb])))
    crops = result.crops(RATIOS)
    path = tmp_path / "sheet.png"
    draw_sheet(path, rgb[::2, ::2], result, [Region(Box(60, 50, 80, 70), 5600),
                                             Region(Box(0, 0, 10, 10), 100)],
               crops, min_area=1000, title="sheet 1 of 1")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.width > 400 and img.height > 400
    assert isinstance(crops[0], Crop)


def test_a_missing_question_column_fails_the_command(tmp_path, labels, capsys):
    labels.reset_index().to_csv(tmp_path / "labels.csv", index=False)
    review = _write(tmp_path / "review.csv", "image_id,max_on_face,crop_0.56,crop_1\na,face,,\n")
    params = _write(tmp_path / "p.yaml", "crops:\n  aspect_ratios: [0.56, 1.0]\n")
    code = main(["gaze-import", str(review), "--labels", str(tmp_path / "labels.csv"),
                 "--params", str(params)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "missing column(s) other_salient_region" in err[0]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig"])
def test_spreadsheet_encodings_with_a_byte_order_mark_are_read(tmp_path, labels, encoding):
    path = tmp_path / "review.csv"
    path.write_text(HEADER + "a,Face,,,\nb,Ailleurs é,,,\n", encoding=encoding)
    with pytest.raises(InputFileError, match="row 3: max_on_face: 'Ailleurs é'"):
        read_review(path, labels, RATIOS)  # decoded: the bad answer is quoted back, not bytes
    path.write_text(HEADER + "a,Face,,,\nb,elsewhere,,,\n", encoding=encoding)
    assert list(read_review(path, labels, RATIOS)["max_on_face"]) == ["face", "elsewhere"]


def test_latin1_is_refused_naming_the_row(tmp_path, labels):
    path = tmp_path / "review.csv"
    path.write_bytes((HEADER + "a,face,,,\nb,face,,,caf\xe9\n").encode("latin-1"))
    with pytest.raises(InputFileError) as err:
        read_review(path, labels, RATIOS)
    assert str(err.value) == (f"{path}: row 3: byte 0xe9 is not UTF-8 (saved as Latin-1 or "
                              "Windows-1252?); save the file as CSV UTF-8")


def test_utf16_without_a_byte_order_mark_is_refused(tmp_path, labels):
    path = tmp_path / "review.csv"
    path.write_bytes((HEADER + "a,face,,,\n").encode("utf-16-le"))
    with pytest.raises(InputFileError, match="UTF-16 without a byte-order mark"):
        read_review(path, labels, RATIOS)


def test_gaze_import_reads_the_primary_croppers_labels_by_default(tmp_path, labels, capsys,
                                                                 monkeypatch):
    """Without --labels: the labels the workflow wrote for the report's cropper."""
    monkeypatch.chdir(tmp_path)
    where = tmp_path / "results/croppers/smartcrop/gaze/labels.csv"
    where.parent.mkdir(parents=True)
    labels.reset_index().to_csv(where, index=False)
    review = _write(tmp_path / "review.csv", HEADER + "a,face,,full,\n")
    params = _write(tmp_path / "params.yaml", "croppers: [center, smartcrop]\nprimary: smartcrop\n"
                    "crops:\n  aspect_ratios: [0.56, 1.0]\n")
    assert main(["gaze-import", str(review), "--params", str(params)]) == 0
    assert "1 reviewed image(s)" in capsys.readouterr().out
    where.unlink()
    assert main(["gaze-import", str(review), "--params", str(params)]) == 2
    assert "results/croppers/smartcrop/gaze/labels.csv" in capsys.readouterr().err
