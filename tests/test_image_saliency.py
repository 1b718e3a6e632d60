"""Single-image saliency: one row per dataset image, the grid kept and read back exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cropaudit.contracts import IMAGE_SALIENCY_COLUMNS
from cropaudit.engine.center import CenterModel
from cropaudit.errors import InputFileError
from cropaudit.stages.image_saliency import image_saliency, result_of


def _dataset(tmp_path, sizes):
    (tmp_path / "images").mkdir()
    rows = []
    for i, (w, h) in enumerate(sizes):
        Image.new("RGB", (w, h), (90, 120, 150)).save(tmp_path / f"images/{i}.jpg")
        rows.append({"image_id": f"i{i}", "path": f"images/{i}.jpg", "width": w, "height": h,
                     "group": "g"})
    return pd.DataFrame(rows)


def test_rows_hold_the_whole_grid_and_read_back_to_the_same_result(tmp_path):
    table = _dataset(tmp_path, [(200, 400), (333, 120)])
    model = CenterModel()
    out = image_saliency(table, tmp_path / "images.parquet", model)
    assert list(out.columns) == list(IMAGE_SALIENCY_COLUMNS) and len(out) == 2
    out.to_parquet(tmp_path / "s.parquet")
    back = pd.read_parquet(tmp_path / "s.parquet")
    for row, path in zip(back.itertuples(index=False), ["images/0.jpg", "images/1.jpg"],
                         strict=True):
        direct = next(iter(model.predict([tmp_path / path])))
        again = result_of(row)
        assert np.array_equal(again.scores, direct.scores)
        assert np.array_equal(again.grid_x, direct.grid_x)
        assert np.array_equal(again.grid_y, direct.grid_y)
        assert again.salient_point == direct.salient_point
        assert (again.width, again.height, again.model) == (direct.width, direct.height,
                                                            "center")


def test_a_table_disagreeing_with_the_image_is_refused(tmp_path):
    table = _dataset(tmp_path, [(200, 400)])
    table.loc[0, "width"] = 201
    with pytest.raises(InputFileError, match="dataset table says 201x400"):
        image_saliency(table, tmp_path / "images.parquet", CenterModel())
