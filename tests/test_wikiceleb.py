"""The wikiceleb source end to end against a local server playing WDQS, the Commons API and the
image host. The production code runs unchanged: only the base URLs come from params."""

from __future__ import annotations

import hashlib
import json
import os
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
from cropaudit.datasets import SOURCES, wikiceleb
from cropaudit.datasets.http import ENV_CONTACT
from cropaudit.datasets.table import BASE_COLUMNS, read_table
from cropaudit.errors import ConfigError, DatasetError, InputFileError
from support.wikimedia import (
    FILEPATH_PREFIX,
    SPARQL_PATH,
    UPLOAD_PREFIX,
    FakeWikimedia,
    binding,
    corrupt_jpeg,
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
                "image_base": fake.base + FILEPATH_PREFIX,
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
    assert rows.loc["Q103", "file_name"] == "Clara_Example,_2019.jpg"
    assert rows.loc["Q101", "ethnic_group"] == f"{AFRICAN_AMERICANS};Q999999"
    assert rows.loc["Q101", "source_url"].startswith(fake.base + FILEPATH_PREFIX)
    assert rows.loc["Q101", "source_url"].endswith("?width=960")
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
    # excluded people were never downloaded; each image was fetched once, via the redirect
    assert fake.image_requests() == 5
    assert len(fake.requests_to(FILEPATH_PREFIX)) == 5
    assert {r.query["width"][0] for r in fake.requests_to(UPLOAD_PREFIX)} == {"960"}


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


def test_redirect_is_followed_to_the_image_host(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    build(fake, tmp_path)
    first_hops = [r.path for r in fake.requests_to(FILEPATH_PREFIX)]
    second_hops = [r.path for r in fake.requests_to(UPLOAD_PREFIX)]
    assert sorted(p.rsplit("/", 1)[-1].replace(" ", "_") for p in first_hops) == sorted(
        p.rsplit("/", 1)[-1] for p in second_hops
    )


def test_missing_file_on_commons_is_reported(fake: FakeWikimedia, tmp_path: Path) -> None:
    populate(fake)
    del fake.files["Eric_Example.jpg"]
    build(fake, tmp_path)
    assert excluded(tmp_path)["Q104"] == "missing on Commons: Eric_Example.jpg"
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
    assert person.images == {expected.image}
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


def test_title_batches_bound_count_and_url_length() -> None:
    names = [f"N{i}.jpg" for i in range(120)]
    assert [len(b) for b in wikiceleb.title_batches(names, 50)] == [50, 50, 20]
    long = ["Портрет_" + "я" * 100 + f"_{i}.jpg" for i in range(30)]
    batches = list(wikiceleb.title_batches(long, 50))
    assert [title for batch in batches for title in batch] == long
    encoded = [sum(len(quote(f"File:{n}|")) for n in b) for b in batches]
    assert max(encoded) <= 6000
    assert len(batches) > 1
