"""The wikiceleb source end to end against a local server playing WDQS, the Commons API and the
image host. The production code runs unchanged: only the base URLs come from params."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pandas as pd
import pytest
from PIL import Image

from cropaudit.config import Params, parse_params
from cropaudit.datasets import wikiceleb
from cropaudit.datasets.http import ENV_CONTACT, ServiceBusy
from cropaudit.datasets.prepare import SOURCES
from cropaudit.datasets.table import BASE_COLUMNS, read_table
from cropaudit.errors import ConfigError, DatasetError, DownloadError, InputFileError
from support.wikimedia import (
    API_PATH,
    FILEPATH_PREFIX,
    SPARQL_PATH,
    SVG,
    UPLOAD_PREFIX,
    FakeWikimedia,
    binding,
    corrupt_jpeg,
    image_bytes,
    jpeg_bytes,
)

REPO = Path(__file__).resolve().parents[1]
FEMALE, MALE = "Q6581072", "Q6581097"
AFRICAN_AMERICANS, YORUBA, ENGLISH, JAPANESE = "Q49085", "Q190168", "Q42406", "Q161652"
UNMAPPED = "Q1075293"


@pytest.fixture
def fake() -> Any:
    server = FakeWikimedia().start()
    yield server
    server.stop()


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def params_for(fake: FakeWikimedia, **over: Any) -> dict:
    data = {
        "dataset": {
            "source": "wikiceleb",
            "groups": {"attributes": ["race", "gender"], "min_group_size": 1},
            "wikiceleb": {
                "sparql_endpoint": fake.base + SPARQL_PATH,
                "commons_api": fake.base + "/w/api.php",
                "http": {
                    "contact": "tests@example.org", "concurrency": 2, "timeout_s": 5,
                    "max_attempts": 3, "backoff_initial_s": 0.01, "backoff_max_s": 0.05,
                    "max_mbps": None,
                },
            },
        }
    }
    return _merge(data, over)


def build(fake: FakeWikimedia, tmp_path: Path, **over: Any) -> pd.DataFrame:
    params: Params = parse_params(params_for(fake, **over))
    return wikiceleb.build(params, tmp_path / "data" / "wikiceleb" / "images.parquet")


def excluded(tmp_path: Path) -> dict[str, str]:
    df = pd.read_csv(tmp_path / "data" / "wikiceleb" / "excluded.csv", dtype=str)
    return dict(zip(df.image_id, df.reason, strict=True))


def populate(fake: FakeWikimedia) -> dict[str, bytes]:
    """Five usable people (black/white x female/male, one asian), and three to exclude."""
    images = {
        "Q101": jpeg_bytes(64, 48, (200, 30, 30)),
        "Q102": jpeg_bytes(48, 64, (30, 200, 30)),
        "Q103": jpeg_bytes(80, 40, (30, 30, 200)),
        "Q104": jpeg_bytes(40, 40, (200, 200, 30)),
        "Q105": jpeg_bytes(50, 70, (30, 200, 200)),
        "Q106": jpeg_bytes(30, 30, (100, 100, 100)),
        "Q107": jpeg_bytes(30, 30, (120, 60, 10)),
    }
    fake.add_person("Q101", "Ada_Example_(1).jpg", FEMALE, AFRICAN_AMERICANS, images["Q101"])
    fake.bindings.append(binding("Q101", "Ada_Example_(1).jpg", FEMALE, "Q999999"))  # unmapped too
    fake.add_person("Q102", "Bola_Example.jpg", MALE, YORUBA, images["Q102"])
    fake.add_person("Q103", "Clara Example, 2019.jpg", FEMALE, ENGLISH, images["Q103"],
                    meta={"LicenseShortName": "CC BY 2.0", "Artist": "<bdi>Dan</bdi>",
                          "Attribution": "Photo: <b>Dan Example</b> / CC BY 2.0"})
    fake.add_person("Q104", "Eric_Example.jpg", MALE, ENGLISH, images["Q104"])
    fake.add_person("Q105", "Fumiko_Example.jpg", FEMALE, JAPANESE, images["Q105"])
    fake.add_person("Q106", "Gus_Example.jpg", MALE, UNMAPPED, images["Q106"])
    fake.add_person("Q107", "Hana_Example.jpg", FEMALE, AFRICAN_AMERICANS, images["Q107"])
    fake.bindings.append(binding("Q107", "Hana_Example.jpg", FEMALE, ENGLISH))  # black and white
    fake.add_person("Q108", "Scan_of_a_letter.pdf", MALE, ENGLISH, b"%PDF-1.4")
    return images


def test_happy_path_builds_the_table_with_licences_and_sizes(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    images = populate(fake)
    df = build(fake, tmp_path)
    out_dir = tmp_path / "data" / "wikiceleb"

    assert sorted(df.image_id) == ["Q101", "Q102", "Q103", "Q104", "Q105"]
    assert list(df.columns[: len(BASE_COLUMNS)]) == list(BASE_COLUMNS)
    rows = df.set_index("image_id")
    assert rows.loc["Q101", "group"] == "black_female"
    assert rows.loc["Q102", "group"] == "black_male"  # Yoruba -> black
    assert rows.loc["Q103", "group"] == "white_female"
    assert rows.loc["Q105", "race"] == "asian"
    for qid, data in images.items():
        if qid not in rows.index:
            continue
        path = out_dir / rows.loc[qid, "path"]
        assert path.read_bytes() == data  # what the server sent, byte for byte
        assert rows.loc[qid, "sha256"] == hashlib.sha256(data).hexdigest()
        with Image.open(path) as img:
            assert (rows.loc[qid, "width"], rows.loc[qid, "height"]) == img.size
    # licence and author come from extmetadata with the HTML removed
    assert rows.loc["Q101", "license"] == "CC BY-SA 4.0"
    assert rows.loc["Q101", "artist"] == "Photographer Q101 & co"
    assert rows.loc["Q101", "credit"] == "Own work"
    assert rows.loc["Q101", "attribution"] == (
        "Photographer Q101 & co, CC BY-SA 4.0, via Wikimedia Commons"
    )
    assert rows.loc["Q103", "attribution"] == "Photo: Dan Example / CC BY 2.0"
    assert rows.loc["Q103", "artist"] == "Dan"
    assert rows.loc["Q103", "file_name"] == "Clara Example, 2019.jpg"  # as Wikidata has it
    assert rows.loc["Q101", "ethnic_group"] == f"{AFRICAN_AMERICANS};Q999999"
    # narrower than 960 px: Commons' thumburl is the original on the media host
    assert rows.loc["Q101", "source_url"] == fake.base + UPLOAD_PREFIX + "Ada_Example_%281%29.jpg"
    assert (rows.source == "wikiceleb").all()

    reasons = excluded(tmp_path)
    assert reasons["Q106"] == f"unmapped: ethnic_group {UNMAPPED}"
    assert reasons["Q107"] == "ambiguous: race black, white"
    assert reasons["Q108"].startswith("not a photo")
    assert set(reasons) == {"Q106", "Q107", "Q108"}

    # the table read back passes the shared reader; the query and its raw result are kept
    assert len(read_table(out_dir / "images.parquet")) == 5
    sent = fake.requests_to(SPARQL_PATH)[0].query["query"][0]
    assert sent == (REPO / "src/cropaudit/datasets/wikiceleb.rq").read_text()
    assert (out_dir / "query.rq").read_text() == sent
    stored = json.loads((out_dir / "query.json").read_text())
    assert len(stored["results"]["bindings"]) == len(fake.bindings)
    # etiquette: every request names the client and its contact
    assert {r.user_agent for r in fake.log} == {
        r.user_agent for r in fake.log if "(tests@example.org)" in r.user_agent
    }
    assert all(r.user_agent.startswith("cropaudit/") for r in fake.log)
    # excluded people were never downloaded; each image cost one request, with no redirect
    assert fake.image_requests() == 5
    assert len(fake.log) == 1 + 1 + 5  # query, one licence batch, five images
    assert fake.requests_to(FILEPATH_PREFIX) == []
    assert fake.requests_to(API_PATH)[0].query["iiurlwidth"] == ["960"]
    # images and their folder have the mode of every other output
    mode = stat.S_IMODE((out_dir / "images.parquet").stat().st_mode)
    assert {stat.S_IMODE(p.stat().st_mode) for p in (out_dir / "images").iterdir()} == {mode}
    assert stat.S_IMODE((out_dir / "images").stat().st_mode) == mode | 0o111


def test_429_with_retry_after_is_honoured(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    fake.plans["Bola_Example.jpg"] = ["429", "ok"]
    fake.retry_after = "1"
    df = build(fake, tmp_path)
    assert "Q102" in set(df.image_id)
    hits = [r.t for r in fake.requests_to(UPLOAD_PREFIX + "Bola_Example.jpg")]
    assert len(hits) == 2
    # backoff is 0.01 s in these params: a wait of ~1 s can only come from Retry-After
    assert hits[1] - hits[0] >= 0.9


def test_500_then_success(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    fake.plans["Eric_Example.jpg"] = ["500", "500", "ok"]
    df = build(fake, tmp_path)
    assert "Q104" in set(df.image_id)
    assert fake.image_requests("Eric_Example.jpg") == 3


def test_persistent_500_fails_after_max_attempts_and_is_reported(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    populate(fake)
    fake.plans["Eric_Example.jpg"] = ["500"]
    df = build(fake, tmp_path)
    assert "Q104" not in set(df.image_id)
    assert fake.image_requests("Eric_Example.jpg") == 3  # max_attempts
    assert excluded(tmp_path)["Q104"] == "download failed: HTTP 500 (after 3 attempts)"


def test_truncated_body_is_fetched_again(fake: FakeWikimedia, tmp_path: Path) -> None:
    images = populate(fake)
    fake.plans["Bola_Example.jpg"] = ["truncated", "ok"]
    df = build(fake, tmp_path)
    row = df.set_index("image_id").loc["Q102"]
    assert row.sha256 == hashlib.sha256(images["Q102"]).hexdigest()
    assert fake.image_requests("Bola_Example.jpg") == 2


def test_corrupt_jpeg_is_excluded_and_not_kept_on_disk(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    images = populate(fake)
    fake.files["Bola_Example.jpg"] = corrupt_jpeg(images["Q102"])
    df = build(fake, tmp_path)
    assert "Q102" not in set(df.image_id)
    assert excluded(tmp_path)["Q102"].startswith("download failed: undecodable image")
    assert not list((tmp_path / "data/wikiceleb/images").glob("Q102_*"))
    assert fake.image_requests("Bola_Example.jpg") == 1  # same bytes again would not help


def test_html_error_page_with_status_200_is_not_an_image(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    populate(fake)
    fake.plans["Eric_Example.jpg"] = ["html"]
    # and an error page that even claims to be a JPEG
    fake.files["Fumiko_Example.jpg"] = b"<!DOCTYPE html><html><body>Error 500</body></html>"
    df = build(fake, tmp_path)
    assert {"Q104", "Q105"}.isdisjoint(df.image_id)
    reasons = excluded(tmp_path)
    assert reasons["Q104"] == "download failed: not an image: Content-Type text/html"
    assert reasons["Q105"] == "download failed: not an image: unrecognised content"
    assert not list((tmp_path / "data/wikiceleb/images").glob("Q104_*"))
    assert not list((tmp_path / "data/wikiceleb/images").glob("Q105_*"))


def test_thumbnails_come_at_a_standard_width_and_in_the_served_format(
    fake: FakeWikimedia, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """thumb_width 1000 is asked as 1280 (what Wikimedia serves for it); a TIFF's thumbnail is
    a JPEG and is named after what it is."""
    fake.add_person("Q130", "Wide_portrait.jpg", FEMALE, ENGLISH, jpeg_bytes(1400, 700, (9, 9, 9)))
    fake.add_person("Q131", "Scan.tif", MALE, ENGLISH,
                    image_bytes(1500, 900, (50, 90, 10), "TIFF"))
    over = {"dataset": {"wikiceleb": {"thumb_width": 1000}}}
    with caplog.at_level("WARNING"):
        df = build(fake, tmp_path, **over)
    assert "thumb_width 1000 is not a Wikimedia standard thumbnail width" in caplog.text
    assert fake.requests_to(API_PATH)[0].query["iiurlwidth"] == ["1280"]
    rows = df.set_index("image_id")
    assert (rows.loc["Q130", "width"], rows.loc["Q130", "height"]) == (1280, 640)
    assert rows.loc["Q130", "source_url"].endswith("/1280px-Wide_portrait.jpg")
    assert rows.loc["Q131", "path"].endswith(".jpg")
    assert rows.loc["Q131", "source_url"].endswith("/1280px-Scan.tif.jpg")
    assert rows.loc["Q131", "file_name"] == "Scan.tif"
    assert fake.image_requests() == 2


def test_every_file_of_a_person_is_tried(fake: FakeWikimedia, tmp_path: Path) -> None:
    """An SVG, a deleted file, a file without licence or a broken one sorting first must not
    cost the person: the next file is used."""
    good = {q: jpeg_bytes(30, 20 + i, (i * 40, 90, 90)) for i, q in enumerate(
        ("Q140", "Q141", "Q142", "Q143"))}
    fake.add_person("Q140", "A_drawing.svg", FEMALE, ENGLISH, SVG)
    fake.add_person("Q141", "A_deleted.jpg", MALE, ENGLISH, b"")
    del fake.files["A_deleted.jpg"]
    fake.add_person("Q142", "A_unlicensed.jpg", FEMALE, YORUBA, jpeg_bytes(20, 20, (1, 1, 1)),
                    meta={"Artist": "Someone"})
    fake.add_person("Q143", "A_broken.jpg", MALE, YORUBA, corrupt_jpeg(good["Q143"]))
    for qid in good:
        fake.bindings.append(binding(qid, f"B_{qid}.jpg", FEMALE if qid in ("Q140", "Q142")
                                     else MALE, ENGLISH if qid < "Q142" else YORUBA))
        fake.add_file(f"B_{qid}.jpg", good[qid], qid=qid)
    fake.add_person("Q144", "Only_unlicensed.jpg", MALE, ENGLISH, jpeg_bytes(20, 20, (7, 7, 7)),
                    meta={})
    fake.add_person("Q145", "Only_a_map.svg", MALE, ENGLISH, SVG)
    df = build(fake, tmp_path)
    rows = df.set_index("image_id")
    for qid, data in good.items():
        assert rows.loc[qid, "file_name"] == f"B {qid}.jpg"
        assert rows.loc[qid, "sha256"] == hashlib.sha256(data).hexdigest()
    reasons = excluded(tmp_path)
    assert reasons == {
        "Q144": "no licence: Only unlicensed.jpg has no licence on Commons",
        "Q145": "not a photo: Commons file type .svg",
    }
    # the SVG and the files known to be unusable were never downloaded; the broken one once
    assert fake.image_requests("A_drawing.svg") == fake.image_requests("A_unlicensed.jpg") == 0
    assert fake.image_requests("A_broken.jpg") == 1
    fake.reset_log()
    pd.testing.assert_frame_equal(build(fake, tmp_path), df)
    assert fake.log == []  # the rerun takes the second file from disk, asking nothing


def test_attribution_text_and_unknown_values(fake: FakeWikimedia, tmp_path: Path) -> None:
    fake.add_person("Q150", "Roe.jpg", FEMALE, ENGLISH, jpeg_bytes(20, 20, (5, 5, 5)), meta={
        "LicenseShortName": "CC BY 4.0", "Artist": "Jane Roe<br>Edited by<br />John Doe",
        "Credit": "<p>Own work</p><p>Retouched</p>"})
    fake.add_person("Q151", "No_artist.jpg", MALE, ENGLISH, jpeg_bytes(20, 20, (6, 6, 6)), meta={
        "LicenseShortName": "Public domain", "Credit": "Own work"})
    genid = "http://www.wikidata.org/.well-known/genid/4f2e8a1b9c"
    fake.bindings.append(binding("Q151", "No_artist.jpg", genid, ENGLISH))  # also "unknown"
    fake.add_person("Q152", "Nobody.jpg", genid, ENGLISH, jpeg_bytes(20, 20, (8, 8, 8)))
    df = build(fake, tmp_path)
    rows = df.set_index("image_id")
    assert rows.loc["Q150", "artist"] == "Jane Roe Edited by John Doe"
    assert rows.loc["Q150", "credit"] == "Own work Retouched"
    assert rows.loc["Q150", "attribution"] == (
        "Jane Roe Edited by John Doe, CC BY 4.0, via Wikimedia Commons")
    assert rows.loc["Q151", "attribution"] == "unknown author, Public domain, via Wikimedia Commons"
    assert rows.loc["Q151", "credit"] == "Own work"
    assert rows.loc["Q151", "sex_or_gender"] == MALE  # the unknown value is not a value
    assert excluded(tmp_path) == {"Q152": "unmapped: sex_or_gender none"}


def test_licence_step_retries_api_errors_and_keeps_each_batch(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    populate(fake)
    over = {"dataset": {"wikiceleb": {"metadata_batch": 2}}}
    fake.plans["api"] = ["ok", "ok", "dberror", "ok"]  # a DBQueryError on the third call
    assert len(build(fake, tmp_path / "a", **over)) == 5
    assert len(fake.requests_to(API_PATH)) == 4

    fake.reset_log()
    fake.plans["api"] = ["ok", "ok", "dberror"]  # ... that does not go away
    with pytest.raises(DownloadError, match=r"internal_api_error_DBQueryError.*\(after 3 "
                       r"attempts\) \(licences: 4 of 5 files' records saved in .*run again"):
        build(fake, tmp_path / "b", **over)
    cache = json.loads((tmp_path / "b/data/wikiceleb" / wikiceleb.METADATA_FILE).read_text())
    assert len(cache) == 4
    fake.reset_log()
    assert len(build(fake, tmp_path / "b", **over)) == 5
    (asked,) = fake.requests_to(API_PATH)  # only the file not saved before
    assert asked.query["titles"][0].count("|") == 0


def test_api_continuation_is_followed(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    fake.api_page_limit = 2
    df = build(fake, tmp_path)
    assert len(df) == 5 and (df.license != "").all()
    api = fake.requests_to(API_PATH)
    assert len(api) == 3 and all("iicontinue" in r.query for r in api[1:])


def test_query_timeout_is_named_and_not_retried(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    fake.plans["sparql"] = ["timeout"]
    with pytest.raises(DownloadError, match=r"timed out on the server \(TimeoutException\); "
                       r"not retried: make the query smaller"):
        build(fake, tmp_path)
    assert len(fake.requests_to(SPARQL_PATH)) == 1


def test_long_retry_after_on_images_stops_and_a_later_run_resumes(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    populate(fake)
    fake.plans.update({name: ["429"] for name in fake.files})
    fake.retry_after = "900"
    with pytest.raises(ServiceBusy, match="asked to wait 900 s"):
        build(fake, tmp_path)
    assert fake.image_requests() <= 2  # concurrency: nothing after the first answers
    assert not (tmp_path / "data/wikiceleb/images.parquet").exists()
    fake.plans.clear()
    fake.reset_log()
    assert len(build(fake, tmp_path)) == 5
    assert fake.requests_to(SPARQL_PATH) == []  # the stored query and licences are reused


def test_a_dead_media_host_trips_the_breaker_and_a_later_run_resumes(
    fake: FakeWikimedia, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """Issue 25, item 5: with every image connection dropped, 30 images took 8 min 15 s
    (5 tries each with backoff) before "no usable images". Now the run stops after
    host_failures_max failures in a row, with one line and everything done so far kept."""
    import yaml

    from cropaudit.cli import EXIT_ENVIRONMENT, main

    for i in range(30):
        fake.add_person(f"Q{200 + i}", f"Person_{i}.jpg", FEMALE if i % 2 else MALE,
                        AFRICAN_AMERICANS if i % 3 else ENGLISH,
                        jpeg_bytes(40, 40, (8 * i, 100, 200 - 5 * i)))
    fake.plans.update({name: ["drop"] for name in fake.files})
    monkeypatch.chdir(tmp_path)
    params = params_for(fake, dataset={"wikiceleb": {"http": {
        "max_attempts": 5, "host_failures_max": 6, "backoff_initial_s": 0.05}}})
    Path("params.yaml").write_text(yaml.safe_dump(params))
    started = time.monotonic()
    code = main(["prepare-data", "--out", "data/wikiceleb/images.parquet"])
    seconds = time.monotonic() - started
    assert code == EXIT_ENVIRONMENT
    err = [ln for ln in capsys.readouterr().err.splitlines() if "error" in ln]
    host = fake.base.removeprefix("http://")
    assert err == [f"cropaudit prepare-data: error: {host}: 6 connection failures in a row "
                   "(last: connection error; dataset.wikiceleb.http.host_failures_max), the "
                   "host looks down; stopped without sending more requests, complete files "
                   "are kept: run the same command again later to resume"]
    assert fake.image_requests() <= 6 + 1  # the breaker's count, and one in flight at most
    assert seconds < 20, seconds
    folder = tmp_path / "data/wikiceleb"
    assert (folder / "query.json").is_file() and (folder / "commons_metadata.json").is_file()
    assert not (folder / "images.parquet").exists()
    assert not list((folder / "images").glob(".*.part"))
    fake.plans.clear()
    fake.reset_log()
    assert main(["prepare-data", "--out", "data/wikiceleb/images.parquet"]) == 0
    assert len(read_table(folder / "images.parquet")) == 30
    assert fake.requests_to(SPARQL_PATH) == [] and fake.requests_to(API_PATH) == []


def test_a_host_that_answers_is_never_taken_for_down(fake: FakeWikimedia, tmp_path: Path) -> None:
    """Failures count only in a row: every file's first connection drops, its retry is
    answered, so with two workers at most two failures follow each other."""
    populate(fake)
    fake.plans.update({name: ["drop", "500", "ok"] for name in fake.files})
    df = build(fake, tmp_path, dataset={"wikiceleb": {"http": {"host_failures_max": 3}}})
    assert len(df) == 5


def test_a_renamed_file_is_recorded_under_the_name_its_urls_point_to(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    """Issue 25, item 9: Wikidata still names a file Commons has renamed; the old name was
    kept while source_url and description_url pointed to the new one. Names are stored with
    spaces, as Wikidata and Commons titles have them (they were stored with underscores)."""
    populate(fake)
    data = jpeg_bytes(44, 44, (10, 220, 120))
    fake.bindings.append(binding("Q150", "Old name of Ada.jpg", FEMALE, AFRICAN_AMERICANS))
    fake.add_file("New_name_of_Ada.jpg", data, qid="Q150")
    fake.renamed["Old_name_of_Ada.jpg"] = "New_name_of_Ada.jpg"
    rows = build(fake, tmp_path).set_index("image_id")
    assert rows.loc["Q150", "file_name"] == "New name of Ada.jpg"
    assert rows.loc["Q150", "source_url"].endswith("/New_name_of_Ada.jpg")
    assert rows.loc["Q150", "description_url"].endswith("/File:New_name_of_Ada.jpg")
    assert rows.loc["Q101", "file_name"] == "Ada Example (1).jpg"


def test_missing_file_on_commons_is_reported(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    del fake.files["Eric_Example.jpg"]
    build(fake, tmp_path)
    assert excluded(tmp_path)["Q104"] == "missing on Commons: Eric Example.jpg"
    assert fake.image_requests("Eric_Example.jpg") == 0


def test_maxlag_and_sparql_503_are_retried(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    fake.plans["api"] = ["maxlag", "ok"]
    fake.plans["sparql"] = ["503", "ok"]
    fake.retry_after = "0"
    df = build(fake, tmp_path)
    assert len(df) == 5
    assert len(fake.requests_to("/w/api.php")) == 2
    assert len(fake.requests_to(SPARQL_PATH)) == 2


def test_same_picture_twice_is_kept_once(fake: FakeWikimedia, tmp_path: Path) -> None:
    images = populate(fake)
    fake.add_person("Q109", "Copy_of_Ada.jpg", FEMALE, AFRICAN_AMERICANS, images["Q101"])
    df = build(fake, tmp_path)
    assert "Q109" not in set(df.image_id)
    assert excluded(tmp_path)["Q109"] == "duplicate: same sha256 as Q101"


def test_rerun_reuses_query_metadata_and_images(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    first = build(fake, tmp_path)
    fake.reset_log()
    second = build(fake, tmp_path)
    pd.testing.assert_frame_equal(first, second)
    assert fake.log == []  # nothing asked again: stored query, cached licences, verified files


def test_groups_that_cannot_be_kept_are_not_downloaded(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    populate(fake)
    fake.add_person("Q110", "Ines_Example.jpg", FEMALE, ENGLISH, jpeg_bytes(20, 20, (1, 2, 3)))
    df = build(fake, tmp_path, dataset={"groups": {
        "min_group_size": 2, "include": ["white_female", "black_female"]}})
    assert sorted(df.image_id) == ["Q103", "Q110"]  # black_female has only one person
    assert fake.image_requests() == 2
    reasons = excluded(tmp_path)
    assert reasons["Q101"] == "small group: black_female has 1 < min_group_size 2"
    assert reasons["Q104"] == "group not included: white_male"


def test_max_images_per_group_is_a_seeded_subset(fake: FakeWikimedia, tmp_path: Path) -> None:
    for i in range(10):
        fake.add_person(f"Q{200 + i}", f"P{i}.jpg", FEMALE, ENGLISH,
                        jpeg_bytes(20, 20, (i * 20, 0, 0)))
    over = {"dataset": {"wikiceleb": {"max_images_per_group": 3}}}
    a = build(fake, tmp_path / "a", **over)
    b = build(fake, tmp_path / "b", **over)
    c = build(fake, tmp_path / "c", seed=7, **over)
    assert len(a) == 3
    assert list(a.image_id) == list(b.image_id)
    assert sorted(a.image_id) != sorted(c.image_id)  # 1 chance in 120 of equality by luck


def test_empty_result_is_one_clear_error(fake: FakeWikimedia, tmp_path: Path) -> None:
    fake.add_person("Q106", "Gus_Example.jpg", MALE, UNMAPPED, jpeg_bytes(20, 20, (0, 0, 0)))
    with pytest.raises(DatasetError, match=r"no usable images \(1 excluded: unmapped 1"):
        build(fake, tmp_path)


def test_contact_is_required(
    fake: FakeWikimedia, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_CONTACT, raising=False)
    with pytest.raises(ConfigError, match="contact"):
        build(fake, tmp_path, dataset={"wikiceleb": {"http": {"contact": ""}}})
    assert fake.log == []


def test_mapping_file_can_be_replaced_and_is_checked(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    mapping = tmp_path / "mine.tsv"
    mapping.write_text(
        "# only gender\nvariable\tqid\tattribute\tvalue\tlabel\n"
        f"sex_or_gender\t{FEMALE}\tgender\tf\tfemale\nsex_or_gender\t{MALE}\tgender\tm\tmale\n"
    )
    df = build(fake, tmp_path, dataset={
        "groups": {"attributes": ["gender"]},
        "wikiceleb": {"mapping_file": str(mapping)}})
    assert set(df.group) == {"f", "m"}
    assert "Q106" in set(df.image_id)  # its ethnic group no longer matters
    with pytest.raises(ConfigError, match="race not produced by"):
        build(fake, tmp_path / "x", dataset={"wikiceleb": {"mapping_file": str(mapping)}})
    mapping.write_text("variable\tqid\tattribute\tvalue\tlabel\nethnic_group\tX12\trace\tb\tb\n")
    with pytest.raises(InputFileError, match=r"mine.tsv: line 2: 'X12' is not a QID"):
        wikiceleb.load_mapping(mapping)


def test_paper_example_row_parses(shared_dir: Path) -> None:
    """The paper's one-row query result maps the way the paper's table says."""
    doc = json.loads((shared_dir / "paper" / "dataset.json").read_text())
    expected = pd.read_csv(shared_dir / "paper" / "dataset.tsv", sep="\t", dtype=str).iloc[0]
    result = {"vars": doc["head"]["vars"], "bindings": doc["results"]["bindings"]}
    (person,) = wikiceleb.people(result)
    assert person.qid == expected.human
    # the paper's table writes the name with underscores; Wikidata and Commons titles have
    # spaces (MediaWiki reads both as the same file), and cropaudit keeps Wikidata's form
    assert person.images == {expected.image.replace("_", " ")}
    assert person.terms["sex_or_gender"] == {expected.sex_or_gender}
    assert person.terms["loc_aid"] == {expected.loc_aid}
    mapping = wikiceleb.load_mapping()
    cands, excl = wikiceleb.candidates_from_people([person], mapping, ["gender"])
    assert cands[0].attributes["gender"] == "male"
    cands, excl = wikiceleb.candidates_from_people([person], mapping, ["race", "gender"])
    assert excl[0].reason == f"unmapped: ethnic_group {expected.ethnic_group}"


def _small_image(path: Path, colour: tuple[int, int, int], size: tuple[int, int]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, "JPEG")


def _source_inputs(source: str, fake: FakeWikimedia, tmp_path: Path) -> tuple[dict, set[str]]:
    """params.yaml data for a tiny dataset of ``source``, and the groups it must yield."""
    pairs = {"black_female": (200, 30, 30), "white_male": (30, 30, 200)}
    photos = tmp_path / "photos"
    if source == "demo":
        return ({"groups": {"attributes": ["feature", "cohort"]},
                 "demo": {"images_per_group": 2}},
                {"marked_a", "marked_b", "plain_a", "plain_b"})
    if source == "wikiceleb":
        populate(fake)
        return (params_for(fake)["dataset"],
                {"black_female", "black_male", "white_female", "white_male", "asian_female"})
    if source == "folder":
        for i, (group, colour) in enumerate(pairs.items()):
            _small_image(photos / group.replace("_", "/") / f"{i}.jpg", colour, (40, 30 + i))
        return {"manifest": {"root": str(photos)}}, set(pairs)
    if source == "csv":
        lines = ["path,race,gender"]
        for i, (group, colour) in enumerate(pairs.items()):
            _small_image(photos / f"{i}.jpg", colour, (30 + i, 40))
            lines.append(f"{i}.jpg,{group.replace('_', ',')}")
        (photos / "list.csv").write_text("\n".join(lines) + "\n")
        return {"manifest": {"csv": str(photos / "list.csv")}}, set(pairs)
    raise AssertionError(f"no test inputs for dataset source {source!r}: add them here")


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_every_registered_source_builds_a_valid_table(
    source: str, fake: FakeWikimedia, tmp_path: Path
) -> None:
    """Each name in the registry dispatches (through prepare-data) to a source that builds."""
    from cropaudit.datasets.prepare import prepare_dataset

    dataset, groups = _source_inputs(source, fake, tmp_path)
    params = parse_params({"dataset": {**dataset, "source": source, "name": "tiny"}})
    out = tmp_path / "data" / "tiny" / "images.parquet"
    built = prepare_dataset(params, out)
    table = read_table(out)
    assert len(table) == len(built) > 0
    assert set(table["group"]) == groups
    assert set(table["source"]) == {source}
    for row in table.itertuples():
        with Image.open(out.parent / row.path) as img:
            assert img.size == (row.width, row.height)


_CHILD = """
import sys
from cropaudit.config import load_params
from cropaudit.datasets.wikiceleb import build
build(load_params(sys.argv[1]), sys.argv[2])
"""


def test_resume_after_kill_downloads_nothing_twice(fake: FakeWikimedia, tmp_path: Path) -> None:
    import yaml

    for i in range(12):
        fake.add_person(f"Q{300 + i}", f"R{i}.jpg", FEMALE if i % 2 else MALE,
                        ENGLISH if i < 6 else AFRICAN_AMERICANS,
                        jpeg_bytes(40 + i, 30, (i * 20, 255 - i * 20, 90)))
    fake.delay_s = 0.3
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params_for(fake)))
    out = tmp_path / "run" / "data" / "wikiceleb" / "images.parquet"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(params_file), str(out)], env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while fake.image_requests() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert child.poll() is None, "the first run ended before it could be interrupted"
    child.kill()
    child.wait()
    images_dir = out.parent / "images"
    done_before = {p.name.split("_")[0] for p in images_dir.iterdir() if not p.name.startswith(".")}
    assert 0 < len(done_before) < 12
    assert not out.exists()  # no table from an interrupted run

    fake.reset_log()
    fake.delay_s = 0.0
    resumed = wikiceleb.build(parse_params(yaml.safe_load(params_file.read_text())), out)
    refetched = {r.path.rsplit("/", 1)[-1] for r in fake.requests_to(UPLOAD_PREFIX)}
    assert len(fake.requests_to(SPARQL_PATH)) == 0  # the stored query result is reused
    assert all(f"R{int(q[1:]) - 300}.jpg" not in refetched for q in done_before)
    assert len(refetched) == fake.image_requests() == 12 - len(done_before)
    assert not [p for p in images_dir.iterdir() if p.name.endswith(".part")]

    fake.reset_log()
    reference = build(fake, tmp_path / "straight")
    pd.testing.assert_frame_equal(resumed, reference)


@pytest.mark.slow  # two runs of the real command: ~10-20 s on a busy 2-core machine
def test_ctrl_c_stops_the_download_within_seconds_and_a_rerun_resumes(
    fake: FakeWikimedia, tmp_path: Path
) -> None:
    """SIGINT to the real command while images come slowly: it ends within seconds, says how to
    resume, sends nothing more; the same command then fetches only what is missing."""
    import yaml

    for i in range(24):
        fake.add_person(f"Q{400 + i}", f"S{i}.jpg", FEMALE if i % 2 else MALE,
                        ENGLISH if i < 12 else AFRICAN_AMERICANS,
                        jpeg_bytes(40 + i, 30, (i * 10, 255 - i * 10, 90)))
    fake.delay_s = 1.0  # 24 images at 2 a second: draining the queue would take 10 s or more
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params_for(fake)))
    out = tmp_path / "data" / "wikiceleb" / "images.parquet"
    cmd = [sys.executable, "-m", "cropaudit", "prepare-data", "--params", str(params_file),
           "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    # Default SIGINT handling in the child, as at a terminal: a test run started in the
    # background by a shell (`cmd &`) inherits SIGINT ignored, and Python then installs no
    # KeyboardInterrupt handler (the command correctly ignores Ctrl-C under nohup).
    child = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while fake.image_requests() < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert child.poll() is None, "the first run ended before it could be interrupted"
    child.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = child.communicate(timeout=30)
    took = time.monotonic() - sent
    asked = fake.image_requests()
    # The queue was not drained (that would ask for all 24 and take ≥ 10.5 s at 2 a second).
    assert asked < 24, f"the queue was drained: {asked} requests, {took:.1f} s; {err[-400:]}"
    assert took < 6, f"exit took {took:.1f} s after {asked} requests; {err[-400:]}"
    assert child.returncode == 130
    assert "interrupted" in err and "run the same command again to resume" in err
    assert "Traceback" not in err
    time.sleep(0.5)
    assert fake.image_requests() == asked  # nothing sent after the exit
    images_dir = out.parent / "images"
    kept = {p.name.split("_")[0] for p in images_dir.iterdir() if not p.name.startswith(".")}
    assert 0 < len(kept) < 24
    assert not out.exists()

    fake.reset_log()
    fake.delay_s = 0.0
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert fake.image_requests() == 24 - len(kept)
    assert len(read_table(out)) == 24


def test_title_batches_bound_count_and_url_length() -> None:
    names = [f"N{i}.jpg" for i in range(120)]
    assert [len(b) for b in wikiceleb.title_batches(names, 50)] == [50, 50, 20]
    long = ["Портрет_" + "я" * 100 + f"_{i}.jpg" for i in range(30)]
    batches = list(wikiceleb.title_batches(long, 50))
    assert [title for batch in batches for title in batch] == long
    encoded = [sum(len(quote(f"File:{n}|")) for n in b) for b in batches]
    assert max(encoded) <= 6000
    assert len(batches) > 1
