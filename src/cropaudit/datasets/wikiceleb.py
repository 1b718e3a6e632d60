"""WikiCeleb: the paper's population, from Wikidata (labels) and Wikimedia Commons (images).

Steps, each resumable: run the SPARQL query (its text and raw JSON result are kept in the dataset
folder, so the exact population is versioned with the data and reused until the query changes);
map the QIDs to group labels with a versioned mapping file; keep one image per person; fetch the
Commons licence and author of each file (``imageinfo`` + ``extmetadata``, cached); download
thumbnails at the configured width through ``Special:FilePath``; hand everything to
:func:`cropaudit.datasets.validate.finalize`. Service addresses come from params, so tests point
them at a local server and exercise this very code.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import pandas as pd
import requests

from cropaudit.datasets.http import DownloadJob, PoliteClient, Rejected, RetryLater
from cropaudit.datasets.params import WIKIMEDIA_THUMB_STEPS, WikicelebSourceParams
from cropaudit.datasets.validate import (
    Candidate,
    Exclusion,
    GroupSpec,
    ImageInfo,
    ImageRejected,
    finalize,
    inspect_image,
    select_groups,
)
from cropaudit.errors import ConfigError, DownloadError, InputFileError
from cropaudit.outputs import write_bytes, write_json, write_text

if TYPE_CHECKING:
    from cropaudit.config import Params

log = logging.getLogger(__name__)

SOURCE = "wikiceleb"
PACKAGED_QUERY = "wikiceleb.rq"
PACKAGED_MAPPING = "wikiceleb_groups.tsv"
QUERY_TEXT_FILE = "query.rq"
QUERY_RESULT_FILE = "query.json"
METADATA_FILE = "commons_metadata.json"
IMAGES_DIR = "images"
MAPPING_COLUMNS = ("variable", "qid", "attribute", "value", "label")
#: File types that can be a photograph of a person (P18 sometimes holds a PDF or a video).
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp"})
#: Longest URL-encoded ``titles`` value per API request (URLs over ~8 kB are refused).
MAX_TITLES_CHARS = 6000
EXTMETADATA_FIELDS = ("LicenseShortName", "LicenseUrl", "Artist", "Attribution", "Credit")
_QID = re.compile(r"^Q[1-9][0-9]*$")


# -- the QID -> label mapping --------------------------------------------------------------


@dataclass(frozen=True)
class QidMapping:
    """For each mapped query variable: the attribute it fills and its QID -> value table."""

    attribute_of: dict[str, str]
    values_of: dict[str, dict[str, str]]
    source: str

    @property
    def attributes(self) -> list[str]:
        return sorted(set(self.attribute_of.values()))

    def labels(self) -> dict[str, dict[str, str]]:
        """Per attribute, identity map of its allowed values (for :class:`GroupSpec`)."""
        out: dict[str, dict[str, str]] = {}
        for var, attr in self.attribute_of.items():
            out.setdefault(attr, {}).update({v: v for v in self.values_of[var].values()})
        return out


def load_mapping(path: str | os.PathLike[str] | None = None) -> QidMapping:
    """Read the mapping TSV (``#`` comment lines, then a header); one-line errors on faults."""
    if path is None:
        ref = resources.files("cropaudit.datasets").joinpath(PACKAGED_MAPPING)
        text, where = ref.read_text(encoding="utf-8"), f"(packaged) {PACKAGED_MAPPING}"
    else:
        p = Path(path)
        if not p.is_file():
            raise InputFileError(f"{p}: mapping file not found (dataset.wikiceleb.mapping_file)")
        text, where = p.read_text(encoding="utf-8"), str(p)
    lines = [(i, line) for i, line in enumerate(text.splitlines(), 1)
             if line.strip() and not line.lstrip().startswith("#")]
    if not lines:
        raise InputFileError(f"{where}: empty mapping file")
    reader = csv.reader([line for _, line in lines], delimiter="\t")
    header = next(reader)
    if tuple(h.strip() for h in header[: len(MAPPING_COLUMNS)]) != MAPPING_COLUMNS:
        raise InputFileError(
            f"{where}: line {lines[0][0]}: header must be {' '.join(MAPPING_COLUMNS)}"
        )
    attribute_of: dict[str, str] = {}
    values_of: dict[str, dict[str, str]] = {}
    for (lineno, _), row in zip(lines[1:], reader, strict=True):
        if len(row) < 4:
            raise InputFileError(f"{where}: line {lineno}: expected {len(MAPPING_COLUMNS)} columns")
        var, qid, attr, value = (c.strip() for c in row[:4])
        if not _QID.match(qid):
            raise InputFileError(f"{where}: line {lineno}: {qid!r} is not a QID")
        if not value or not attr:
            raise InputFileError(f"{where}: line {lineno}: empty attribute or value")
        if attribute_of.setdefault(var, attr) != attr:
            raise InputFileError(
                f"{where}: line {lineno}: variable {var} maps to {attribute_of[var]} and {attr}"
            )
        table = values_of.setdefault(var, {})
        if table.setdefault(qid, value) != value:
            raise InputFileError(f"{where}: line {lineno}: {qid} mapped to two values")
    return QidMapping(attribute_of, values_of, where)


# -- the SPARQL query and its result -------------------------------------------------------


def query_text(wp: WikicelebSourceParams) -> str:
    if wp.query_file is None:
        return resources.files("cropaudit.datasets").joinpath(PACKAGED_QUERY).read_text("utf-8")
    p = Path(wp.query_file)
    if not p.is_file():
        raise InputFileError(f"{p}: query file not found (dataset.wikiceleb.query_file)")
    return p.read_text(encoding="utf-8")


def run_query(client: PoliteClient, wp: WikicelebSourceParams, out_dir: Path) -> dict[str, Any]:
    """The query result: the stored one if it answers this very query, else a fresh one.

    Reusing it makes reruns reproducible (Wikidata changes daily) and spares the service.
    """
    text = query_text(wp)
    text_path, result_path = out_dir / QUERY_TEXT_FILE, out_dir / QUERY_RESULT_FILE
    stored = (
        not wp.requery and result_path.is_file() and text_path.is_file()
        and text_path.read_text(encoding="utf-8") == text
    )
    if stored:
        log.info("reusing the stored query result %s", result_path)
        raw = result_path.read_bytes()
    else:
        log.info("querying %s (this can take a minute)", wp.sparql_endpoint)
        raw = client.fetch(
            wp.sparql_endpoint,
            params={"query": text, "format": "json"},
            headers={"Accept": "application/sparql-results+json"},
            timeout=wp.query_timeout_s,
        )
    try:
        doc = json.loads(raw)
        vars_ = doc["head"]["vars"]
        bindings = doc["results"]["bindings"]
    except (ValueError, KeyError, TypeError):
        where = result_path if stored else wp.sparql_endpoint
        raise DownloadError(f"{where}: not a SPARQL JSON result") from None
    missing = [v for v in ("human", "image") if v not in vars_]
    if missing:
        raise ConfigError(f"query: SELECT must return ?{' and ?'.join(missing)}")
    if not stored:
        write_bytes(result_path, raw)
        write_text(text_path, text)
    log.info("query result: %d rows", len(bindings))
    return {"vars": list(vars_), "bindings": bindings}


def _term(binding: Mapping[str, Any], var: str) -> str | None:
    """A binding's value: a QID for Wikidata entities, the literal or IRI otherwise."""
    cell = binding.get(var)
    if not isinstance(cell, dict) or "value" not in cell:
        return None
    value = str(cell["value"])
    if cell.get("type") == "uri" and "/entity/" in value:
        return value.rsplit("/", 1)[-1]
    return value


def commons_file_name(image: str) -> str:
    """``http://commons.wikimedia.org/wiki/Special:FilePath/A%20b.jpg`` -> ``A_b.jpg``."""
    return unquote(image.rsplit("/", 1)[-1]).replace(" ", "_")


@dataclass
class Person:
    """Everything the query said about one person (several rows may describe them)."""

    qid: str
    images: set[str] = field(default_factory=set)
    terms: dict[str, set[str]] = field(default_factory=dict)


def people(result: Mapping[str, Any]) -> list[Person]:
    """Group the result rows by person, in QID order."""
    by_qid: dict[str, Person] = {}
    others = [v for v in result["vars"] if v not in ("human", "image")]
    for b in result["bindings"]:
        qid, image = _term(b, "human"), _term(b, "image")
        if not qid or not image:
            continue
        person = by_qid.setdefault(qid, Person(qid))
        person.images.add(commons_file_name(image))
        for var in others:
            value = _term(b, var)
            if value:
                person.terms.setdefault(var, set()).add(value)
    return sorted(by_qid.values(), key=lambda p: (len(p.qid), p.qid))


def candidates_from_people(
    persons: Iterable[Person], mapping: QidMapping, required: Sequence[str]
) -> tuple[list[Candidate], list[Exclusion]]:
    """Map each person's QIDs to group labels; unmapped or conflicting people are excluded.

    Unmapped QIDs next to a mapped one are ignored (a person listed as both "African Americans"
    and an unmapped group is black); two different labels for one attribute are ambiguous.
    The first image file name (sorted) is used when a person has several.
    """
    cands, excluded = [], []
    for p in persons:
        image = sorted(p.images)[0]
        attrs: dict[str, str] = {}
        reason = None
        if Path(image).suffix.lower() not in PHOTO_EXTENSIONS:
            reason = f"not a photo: Commons file type {Path(image).suffix or 'unknown'}"
        for var, attr in mapping.attribute_of.items():
            qids = p.terms.get(var, set())
            table = mapping.values_of[var]
            labels = sorted({table[q] for q in qids if q in table})
            if len(labels) == 1:
                attrs[attr] = labels[0]
            elif reason is None and attr in required:
                reason = (
                    f"ambiguous: {attr} {', '.join(labels)}" if labels
                    else f"unmapped: {var} {', '.join(sorted(qids)) or 'none'}"
                )
        if reason is not None:
            excluded.append(Exclusion(p.qid, "", reason))
            continue
        meta = {var: ";".join(sorted(vals)) for var, vals in sorted(p.terms.items())}
        meta["file_name"] = image
        cands.append(Candidate(p.qid, None, attrs, meta))
    return cands, excluded


def limit_per_group(
    cands: Sequence[Candidate], spec: GroupSpec, limit: int | None, seed: int
) -> tuple[list[Candidate], list[Exclusion]]:
    """A seeded random subset of at most ``limit`` people per group (QID order is not random:
    low QIDs are the most famous people)."""
    if limit is None:
        return list(cands), []
    by_group: dict[str, list[Candidate]] = {}
    for c in cands:
        by_group.setdefault(spec.label(c.attributes), []).append(c)
    kept, dropped = [], []
    for label, members in sorted(by_group.items()):
        chosen = set(random.Random(f"{seed}:{label}").sample(range(len(members)),
                                                            min(limit, len(members))))
        for i, c in enumerate(members):
            if i in chosen:
                kept.append(c)
            else:
                dropped.append(
                    Exclusion(c.image_id, "", f"not selected: max_images_per_group {limit}")
                )
    return kept, dropped


# -- Commons licence and author ------------------------------------------------------------


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def strip_html(value: str | None) -> str:
    """Commons ``extmetadata`` values are HTML snippets; keep their text, whitespace collapsed."""
    if not value:
        return ""
    parser = _TextOnly()
    parser.feed(str(value))
    parser.close()
    return " ".join("".join(parser.parts).split())


def _maxlag_check(response: requests.Response, body: bytes) -> None:
    """MediaWiki answers an overloaded ``maxlag`` request with status 200 and an error body."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise RetryLater("Commons API answered with non-JSON") from None
    error = doc.get("error") if isinstance(doc, dict) else None
    if error:
        if error.get("code") == "maxlag":
            wait = response.headers.get("Retry-After")
            raise RetryLater("maxlag", float(wait) if wait and wait.isdigit() else None,
                             pause_all=True)
        raise Rejected(f"Commons API error {error.get('code')}: {error.get('info', '')}")


def _metadata_batch(
    client: PoliteClient, wp: WikicelebSourceParams, names: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """imageinfo + extmetadata of up to 50 files, following API continuation."""
    params: dict[str, Any] = {
        "action": "query", "format": "json", "formatversion": "2", "prop": "imageinfo",
        "iiprop": "url|size|mime|extmetadata",
        "iiextmetadatafilter": "|".join(EXTMETADATA_FIELDS),
        "titles": "|".join(f"File:{n}" for n in names),
    }
    if wp.maxlag is not None:
        params["maxlag"] = wp.maxlag
    normalized: dict[str, str] = {}
    pages: dict[str, dict[str, Any]] = {}
    cont: dict[str, Any] = {}
    while True:
        body = client.fetch(wp.commons_api, params={**params, **cont}, check=_maxlag_check)
        doc = json.loads(body)
        query = doc.get("query", {})
        for n in query.get("normalized", []):
            normalized[n["from"]] = n["to"]
        for page in query.get("pages", []):
            entry = pages.setdefault(page["title"], {"title": page["title"]})
            if page.get("missing") or page.get("invalid"):
                entry["missing"] = True
            if page.get("imageinfo"):
                entry["imageinfo"] = page["imageinfo"][0]
        cont = doc.get("continue") or {}
        if not cont:
            break
    out = {}
    for n in names:
        title = normalized.get(f"File:{n}", f"File:{n}")
        out[n] = pages.get(title, {"title": title, "missing": True})
    return out


def title_batches(
    names: Sequence[str], max_count: int, max_chars: int = MAX_TITLES_CHARS
) -> Iterable[list[str]]:
    """Consecutive batches of at most ``max_count`` names whose encoded ``titles`` parameter
    stays short enough for a GET URL (long non-Latin file names triple in length)."""
    batch: list[str] = []
    size = 0
    for n in names:
        cost = len(quote(f"File:{n}|"))
        if batch and (len(batch) == max_count or size + cost > max_chars):
            yield batch
            batch, size = [], 0
        batch.append(n)
        size += cost
    if batch:
        yield batch


def commons_metadata(
    client: PoliteClient, wp: WikicelebSourceParams, names: Iterable[str], out_dir: Path
) -> dict[str, dict[str, Any]]:
    """Licence/author records of ``names``, cached in the dataset folder (asked once per file)."""
    path = out_dir / METADATA_FILE
    cache: dict[str, dict[str, Any]] = {}
    if path.is_file():
        try:
            cache = json.loads(path.read_text(encoding="utf-8"))
        except ValueError:
            log.warning("%s: unreadable cache, asking Commons again", path)
    todo = sorted({n for n in names if n not in cache})
    if todo:
        from tqdm import tqdm

        for batch in tqdm(list(title_batches(todo, wp.metadata_batch)), desc="licences",
                          unit="batch", disable=None):
            cache.update(_metadata_batch(client, wp, batch))
        write_json(path, cache)
    return cache


def credit_fields(record: Mapping[str, Any]) -> dict[str, str]:
    """Table columns from one Commons record: licence, author, a ready-to-print credit line."""
    info = record.get("imageinfo") or {}
    ext = info.get("extmetadata") or {}

    def value(key: str) -> str:
        return strip_html((ext.get(key) or {}).get("value"))

    license_, artist, credit = value("LicenseShortName"), value("Artist"), value("Credit")
    attribution = value("Attribution") or (
        f"{artist or credit or 'unknown author'}, {license_ or 'licence unknown'}, "
        "via Wikimedia Commons"
    )
    return {
        "license": license_,
        "artist": artist,
        "attribution": attribution,
        "credit": credit,
        "license_url": value("LicenseUrl"),
        "description_url": str(info.get("descriptionurl", "")),
    }


# -- images --------------------------------------------------------------------------------


def image_url(wp: WikicelebSourceParams, file_name: str) -> str:
    """``Special:FilePath/<name>?width=N``: Commons redirects to the cached thumbnail."""
    return f"{wp.image_base}{quote(file_name, safe='')}?width={wp.thumb_width}"


def image_stem(qid: str, url: str) -> str:
    """File stem on disk: the QID plus a digest of the URL, so that a changed image or width
    is fetched again instead of a stale file being taken for it on resume."""
    return f"{qid}_{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def _verifier(max_pixels: int) -> Callable[[Path], tuple[str, ImageInfo]]:
    """Accept a downloaded file only if it fully decodes; name it after its real format."""

    def verify(path: Path) -> tuple[str, ImageInfo]:
        try:
            info = inspect_image(path, max_pixels)
        except ImageRejected as exc:
            raise Rejected(exc.reason) from None
        return info.extension, info

    return verify


def build(params: Params, out_path: str | os.PathLike[str]) -> pd.DataFrame:
    """Query, map, download and validate; write ``out_path`` (and its folder); return the table."""
    wp = params.dataset.wikiceleb
    out = Path(out_path)
    out_dir = out.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    mapping = load_mapping(wp.mapping_file)
    required = params.dataset.groups.attributes
    unknown = [a for a in required if a not in mapping.attributes]
    if unknown:
        raise ConfigError(
            f"dataset.groups.attributes: {', '.join(unknown)} not produced by {mapping.source} "
            f"(it maps {', '.join(mapping.attributes)})"
        )
    if wp.thumb_width not in WIKIMEDIA_THUMB_STEPS:
        log.warning(
            "dataset.wikiceleb.thumb_width %d is not a Wikimedia standard thumbnail width (%s): "
            "the media servers may refuse or throttle it",
            wp.thumb_width, ", ".join(map(str, WIKIMEDIA_THUMB_STEPS)),
        )
    spec = GroupSpec.from_params(params, mapping.labels())

    with PoliteClient(wp.http) as client:
        result = run_query(client, wp, out_dir)
        cands, excluded = candidates_from_people(people(result), mapping, required)
        cands, dropped = select_groups(cands, spec, out_dir)
        excluded += dropped
        cands, dropped = limit_per_group(cands, spec, wp.max_images_per_group, params.seed)
        excluded += dropped

        records = commons_metadata(client, wp, [c.meta["file_name"] for c in cands], out_dir)
        jobs, wanted = [], {}
        for c in cands:
            name = c.meta["file_name"]
            record = records[name]
            if record.get("missing"):
                excluded.append(Exclusion(c.image_id, "", f"missing on Commons: {name}"))
                continue
            url = image_url(wp, name)
            c.meta.update(credit_fields(record), source_url=url)
            jobs.append(DownloadJob(c.image_id, url, image_stem(c.image_id, url)))
            wanted[c.image_id] = c
        report = client.download_many(
            jobs, out_dir / IMAGES_DIR, _verifier(params.model.max_pixels), desc="images"
        )

    ready = []
    for key, c in wanted.items():
        done = report.done.get(key)
        if done is None:
            excluded.append(Exclusion(key, "", f"download failed: {report.failed[key]}"))
            continue
        c.file, c.info = done.path, done.payload
        ready.append(c)
    return finalize(
        ready, excluded, params=params, out_path=out, source=SOURCE, values=mapping.labels()
    )
