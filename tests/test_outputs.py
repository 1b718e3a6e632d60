"""Atomic outputs: complete or absent, normal file mode, metadata carried in parquet."""

from __future__ import annotations

import os
import stat

import pandas as pd
import pytest

from cropaudit.outputs import (
    atomic_dir,
    atomic_path,
    read_parquet_metadata,
    write_parquet,
    write_text,
)


def test_written_file_gets_the_usual_mode(tmp_path):
    old = os.umask(0o022)
    try:
        path = write_text(tmp_path / "a.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def _interrupted(context) -> None:
    """Write half an output inside ``context``, then fail as a killed stage would."""
    with context as tmp:
        (tmp / "new.png" if tmp.is_dir() else tmp).write_text("half")
        raise RuntimeError("interrupted")


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError, match="interrupted"):
        _interrupted(atomic_path(tmp_path / "b.txt"))
    assert list(tmp_path.iterdir()) == []


def test_failed_folder_keeps_the_previous_one(tmp_path):
    target = tmp_path / "sheets"
    target.mkdir()
    (target / "old.png").write_text("previous run")
    with pytest.raises(RuntimeError, match="interrupted"):
        _interrupted(atomic_dir(target))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheets"]
    assert [p.name for p in target.iterdir()] == ["old.png"]


def test_completed_folder_replaces_the_previous_one(tmp_path):
    target = tmp_path / "sheets"
    target.mkdir()
    (target / "old.png").write_text("previous run")
    with atomic_dir(target) as tmp:
        (tmp / "new.png").write_text("done")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sheets"]
    assert [p.name for p in target.iterdir()] == ["new.png"]


def test_parquet_metadata_round_trip(tmp_path):
    df = pd.DataFrame({"a": [1, 2]})
    write_parquet(df, tmp_path / "t.parquet", {"shard": 1, "shards": 3})
    assert read_parquet_metadata(tmp_path / "t.parquet") == {"shard": 1, "shards": 3}
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "t.parquet"), df)
    write_parquet(df, tmp_path / "u.parquet")
    assert read_parquet_metadata(tmp_path / "u.parquet") == {}
