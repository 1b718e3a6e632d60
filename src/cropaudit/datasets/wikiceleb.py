"""WikiCeleb: the paper's population, from Wikidata (labels) and Wikimedia Commons (images).

Steps, each resumable: run the SPARQL query (its text and raw JSON result are kept in the dataset
folder, so the exact population is versioned with the data and reused until the query changes);
map the QIDs to group labels with a versioned mapping file; fetch the Commons licence, author and
thumbnail URL of each of a person's files (``imageinfo`` + ``extmetadata`` + ``iiurlwidth``,
cached per batch); download one thumbnail per person at a standard Wikimedia width straight from
its ``thumburl`` (no redirect), trying the person's next file when one is unusable; hand
everything to :func:`cropaudit.datasets.validate.finalize`. Service addresses come from params,
so tests point them at a local server and exercise this very code.
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
import os
import random
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import pandas as pd
import requests

from cropaudit.datasets.http import (
    Downloaded,
    DownloadJob,
    DownloadReport,
    PoliteClient,
    Rejected,
    RetryLater,
)
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
#: File types that can be a photograph of a person (P18 sometimes holds a PDF, a drawing in SVG
#: or a video); checked on the file name before asking Commons, then on the MIME type it reports.
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff", ".webp"})
PHOTO_MIMES = frozenset({"image/jpeg", "image/png", "image/gif", "image/tiff", "image/webp"})
#: MediaWiki API error codes that say "try again later", not "your request is wrong".
TRANSIENT_API_ERRORS = frozenset({"readonly", "ratelimited", "maxlag"})
TRANSIENT_API_ERROR_PREFIX = "internal_api_error_"  # e.g. internal_api_error_DBQueryError
#: Wikidata's "unknown value" / "no value" statements come back as skolem IRIs, not entities.
WIKIDATA_GENID = "/.well-known/genid/"
#: How often the licence cache is saved while batches come in (and always on failure or exit).
METADATA_SAVE_EVERY_S = 5.0
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
            explain=_sparql_timeout,
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


def _sparql_timeout(response: requests.Response, body: bytes) -> str | None:
    """The query service answers a query that ran out of time (60 s on Wikidata) with status
    500 and a Java ``TimeoutException`` in the body: the same query will time out again."""
    if response.status_code == 500 and b"TimeoutException" in body:
        return (
            "HTTP 500: the query timed out on the server (TimeoutException); not retried: make "
            "the query smaller (fewer variables or OPTIONALs, a LIMIT, or split it) and point "
            "dataset.wikiceleb.query_file at it"
        )
    return None


def _term(binding: Mapping[str, Any], var: str) -> str | None:
    """A binding's value: a QID for Wikidata entities, the literal or IRI otherwise."""
    cell = binding.get(var)
    if not isinstance(cell, dict) or "value" not in cell or cell.get("type") == "bnode":
        return None
    value = str(cell["value"])
    if WIKIDATA_GENID in value:  # "unknown value": no QID to map, and no value to report
        return None
    if cell.get("type") == "uri" and "/entity/" in value:
        return value.rsplit("/", 1)[-1]
    return value


def commons_file_name(image: str) -> str:
    """``http://commons.wikimedia.org/wiki/Special:FilePath/A%20b.jpg`` -> ``A b.jpg``.

    Spaces, as Wikidata stores the name (P18) and Commons titles it; MediaWiki reads ``_``
    as a space, so one written with underscores is the same file, under its title.
    """
    return unquote(image.rsplit("/", 1)[-1]).replace("_", " ")


def title_file_name(record: Mapping[str, Any], asked: str) -> str:
    """The file's current name on Commons: its page title without ``File:`` after
    normalisation and redirects (a file renamed since Wikidata named it), else ``asked``."""
    title = str(record.get("title") or "")
    return title.removeprefix("File:") if title.startswith("File:") else asked


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


def photo_files(person: Person) -> list[str]:
    """The person's files that can be photos, in sorted order (the order they are tried in)."""
    return [n for n in sorted(person.images) if Path(n).suffix.lower() in PHOTO_EXTENSIONS]


def candidates_from_people(
    persons: Iterable[Person], mapping: QidMapping, required: Sequence[str]
) -> tuple[list[Candidate], list[Exclusion]]:
    """Map each person's QIDs to group labels; unmapped or conflicting people are excluded.

    Unmapped QIDs next to a mapped one are ignored (a person listed as both "African Americans"
    and an unmapped group is black); two different labels for one attribute are ambiguous.
    ``file_name`` is the person's first photo file (sorted); :func:`build` tries the others
    (:func:`photo_files`) when that one turns out unusable.
    """
    cands, excluded = [], []
    for p in persons:
        photos = photo_files(p)
        attrs: dict[str, str] = {}
        reason = None
        if not photos:
            types = ", ".join(sorted({Path(n).suffix or "unknown" for n in p.images}))
            reason = f"not a photo: Commons file type {types}"
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
        meta["file_name"] = photos[0]
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
    """Text of an HTML snippet; line and block breaks become spaces (``Jane Roe<br>Edited by``
    must not read ``Jane RoeEdited by``)."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr", "td", "th", "dd", "dt", "ul", "ol"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BREAKS:
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.BREAKS:
            self.parts.append(" ")

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


def _api_error_check(response: requests.Response, body: bytes) -> None:
    """MediaWiki reports errors with status 200 and an ``error`` object: overload (``maxlag``,
    ``ratelimited``, ``readonly``) and database hiccups (``internal_api_error_DBQueryError``)
    pass, so they are retried (maxlag and ratelimited pause every worker); others are final."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise RetryLater("Commons API answered with non-JSON") from None
    error = doc.get("error") if isinstance(doc, dict) else None
    if not error:
        return
    code = str(error.get("code", ""))
    reason = f"Commons API error {code}: {' '.join(str(error.get('info', '')).split())}"
    if code in TRANSIENT_API_ERRORS or code.startswith(TRANSIENT_API_ERROR_PREFIX):
        wait = response.headers.get("Retry-After")
        raise RetryLater(reason, float(wait) if wait and wait.isdigit() else None,
                         pause_all=code in ("maxlag", "ratelimited"))
    raise Rejected(reason)


def _metadata_batch(
    client: PoliteClient, wp: WikicelebSourceParams, names: Sequence[str], width: int
) -> dict[str, dict[str, Any]]:
    """imageinfo (with the ``width`` thumbnail URL) + extmetadata of up to 50 files, following
    API continuation. Each record notes the width its ``thumburl`` was asked for, and its
    ``title`` is the file's current one: redirects of renamed files are followed, so the
    name recorded is the one the URLs point to."""
    params: dict[str, Any] = {
        "action": "query", "format": "json", "formatversion": "2", "redirects": "1",
        "prop": "imageinfo",
        "iiprop": "url|size|mime|thumbmime|extmetadata", "iiurlwidth": width,
        "iiextmetadatafilter": "|".join(EXTMETADATA_FIELDS),
        "titles": "|".join(f"File:{n}" for n in names),
    }
    if wp.maxlag is not None:
        params["maxlag"] = wp.maxlag
    normalized: dict[str, str] = {}
    redirects: dict[str, str] = {}
    pages: dict[str, dict[str, Any]] = {}
    cont: dict[str, Any] = {}
    while True:
        body = client.fetch(wp.commons_api, params={**params, **cont}, check=_api_error_check)
        doc = json.loads(body)
        query = doc.get("query", {})
        for n in query.get("normalized", []):
            normalized[n["from"]] = n["to"]
        for r in query.get("redirects", []):
            redirects[r["from"]] = r["to"]
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
        title = redirects.get(title, title)
        out[n] = {**pages.get(title, {"title": title, "missing": True}), "iiurlwidth": width}
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


def _read_metadata_cache(path: Path) -> dict[str, dict[str, Any]]:
    if not path.is_file():
        return {}
    try:
        cache = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        log.warning("%s: unreadable cache, asking Commons again", path)
        return {}
    return cache if isinstance(cache, dict) else {}


def commons_metadata(
    client: PoliteClient, wp: WikicelebSourceParams, names: Iterable[str], out_dir: Path,
    width: int,
) -> dict[str, dict[str, Any]]:
    """Licence/author/thumbnail records of ``names``, cached in the dataset folder.

    A file is asked once per thumbnail width. The cache is saved as batches come in (every few
    seconds) and whenever the step stops, so an error on batch 30 keeps batches 1-29 and a
    rerun asks only for the rest.
    """
    path = out_dir / METADATA_FILE
    cache = _read_metadata_cache(path)
    todo = sorted({n for n in names if cache.get(n, {}).get("iiurlwidth") != width})
    if not todo:
        return cache
    from tqdm import tqdm

    batches = list(title_batches(todo, wp.metadata_batch))
    saved_at, done = time.monotonic(), 0
    try:
        for batch in tqdm(batches, desc="licences", unit="batch", disable=None):
            cache.update(_metadata_batch(client, wp, batch, width))
            done += len(batch)
            if time.monotonic() - saved_at >= METADATA_SAVE_EVERY_S:
                write_json(path, cache)
                saved_at = time.monotonic()
    except KeyboardInterrupt:
        log.warning("licences: interrupted; %d of %d files' records saved in %s: run the same "
                    "command again to resume", done, len(todo), path)
        raise
    except DownloadError as exc:  # the same kind (a host that is down keeps its exit code)
        exc.args = (f"{exc} (licences: {done} of {len(todo)} files' records saved in {path}; "
                    "run again to resume)",)
        raise
    finally:
        if done:
            write_json(path, cache)
    return cache


def credit_fields(record: Mapping[str, Any]) -> dict[str, str]:
    """Table columns from one Commons record: licence, author, a ready-to-print credit line.

    ``Credit`` says where a file comes from ("Own work", a museum): it is not an author, so a
    file without ``Artist`` is credited to "unknown author".
    """
    info = record.get("imageinfo") or {}
    ext = info.get("extmetadata") or {}

    def value(key: str) -> str:
        return strip_html((ext.get(key) or {}).get("value"))

    license_, artist, credit = value("LicenseShortName"), value("Artist"), value("Credit")
    attribution = value("Attribution") or (
        f"{artist or 'unknown author'}, {license_ or 'licence unknown'}, via Wikimedia Commons"
    )
    return {
        "license": license_,
        "artist": artist,
        "attribution": attribution,
        "credit": credit,
        "license_url": value("LicenseUrl"),
        "description_url": str(info.get("descriptionurl", "")),
    }


def unusable_reason(name: str, record: Mapping[str, Any] | None) -> str | None:
    """Why a Commons file cannot be this person's image (None if it can).

    Files without a licence are left out: without one there is no right to copy or show them
    (they are usually awaiting deletion). The reason is counted in ``excluded.csv``.
    """
    if record is None or record.get("missing") or not record.get("imageinfo"):
        return f"missing on Commons: {name}"
    info = record["imageinfo"]
    mime = str(info.get("mime", "")).lower()
    if mime and mime not in PHOTO_MIMES:
        return f"not a photo: {name} is {mime}"
    if not credit_fields(record)["license"]:
        return f"no licence: {name} has no licence on Commons"
    if not (info.get("thumburl") or info.get("url")):
        return f"missing on Commons: {name} has no image URL"
    return None


# -- images --------------------------------------------------------------------------------


def standard_thumb_width(width: int) -> int:
    """The Wikimedia thumbnail step that serves ``width``: the smallest standard width at least
    as large (what the media servers return for other widths anyway: 1000 gives 1280), or the
    largest step."""
    return next((w for w in WIKIMEDIA_THUMB_STEPS if w >= width), WIKIMEDIA_THUMB_STEPS[-1])


def thumb_url(record: Mapping[str, Any]) -> str:
    """The file's thumbnail at the asked width, straight from the media host: ``thumburl``
    (the original's URL when it is narrower than the width)."""
    info = record["imageinfo"]
    return str(info.get("thumburl") or info["url"])


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


def _first_of(reasons: Sequence[str]) -> str:
    """One reason for a person whose files all failed: the first file's, and how many more."""
    more = len(reasons) - 1
    return reasons[0] + (f" (and {more} other file{'s' if more > 1 else ''})" if more else "")


def _log_licences(excluded: Sequence[Exclusion], asked: int) -> None:
    """Say how many people lost their image for want of a licence (never a silent drop)."""
    n = sum(e.reason.startswith("no licence") for e in excluded)
    if n:
        log.warning("licences: %d of %d people have no file with a licence on Commons; "
                    "excluded ('no licence' in excluded.csv)", n, asked)


@dataclass
class _Choice:
    """A person's usable files, in the order they are tried, and what went wrong so far."""

    files: list[str]
    failures: list[str] = field(default_factory=list)


def _choices(
    cands: Sequence[Candidate], files_of: Mapping[str, Sequence[str]],
    records: Mapping[str, Mapping[str, Any]], images_dir: Path,
) -> tuple[dict[str, _Choice], list[Exclusion]]:
    """Per person, the files worth downloading; a file already on disk goes first (resume
    asks nothing again), the others keep their sorted order."""
    on_disk = (
        {p.name.split(".", 1)[0] for p in images_dir.iterdir()} if images_dir.is_dir() else set()
    )
    choices, excluded = {}, []
    for c in cands:
        usable, reasons = [], []
        for name in files_of[c.image_id]:
            why = unusable_reason(name, records.get(name))
            if why is None:
                usable.append(name)
            else:
                reasons.append(why)
        if not usable:
            excluded.append(Exclusion(c.image_id, "", _first_of(reasons)))
            continue
        usable.sort(key=lambda n: image_stem(c.image_id, thumb_url(records[n])) not in on_disk)
        choices[c.image_id] = _Choice(usable)
    return choices, excluded


def download_people(
    client: PoliteClient, choices: Mapping[str, _Choice],
    records: Mapping[str, Mapping[str, Any]], images_dir: Path, max_pixels: int,
) -> tuple[dict[str, tuple[str, str, Downloaded[ImageInfo]]], dict[str, str]]:
    """Download one image per person, trying each person's next file when one fails for good
    (a deleted or broken first file must not cost the person). Returns, by QID, the chosen file
    name, URL and :class:`Downloaded`, and the failure reasons of those with no file left."""
    verify = _verifier(max_pixels)
    chosen: dict[str, tuple[str, str, Downloaded[ImageInfo]]] = {}
    failed: dict[str, str] = {}
    tries = {qid: 0 for qid in choices}
    while tries:
        jobs = []
        for qid, i in tries.items():
            url = thumb_url(records[choices[qid].files[i]])
            jobs.append(DownloadJob(qid, url, image_stem(qid, url)))
        desc = "images" if not chosen and not failed else "images (next files)"
        report: DownloadReport[ImageInfo] = client.download_many(jobs, images_dir, verify,
                                                                 desc=desc)
        urls = {job.key: job.url for job in jobs}
        for qid, done in report.done.items():
            chosen[qid] = (choices[qid].files[tries.pop(qid)], urls[qid], done)
        for qid, reason in report.failed.items():
            choice = choices[qid]
            choice.failures.append(reason)
            tries[qid] += 1
            if tries[qid] == len(choice.files):
                del tries[qid]
                failed[qid] = _first_of(choice.failures)
    return chosen, failed


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
    width = standard_thumb_width(wp.thumb_width)
    if width != wp.thumb_width:
        log.warning(
            "dataset.wikiceleb.thumb_width %d is not a Wikimedia standard thumbnail width (%s): "
            "asking for %d, the width the media servers serve for it",
            wp.thumb_width, ", ".join(map(str, WIKIMEDIA_THUMB_STEPS)), width,
        )
    spec = GroupSpec.from_params(params, mapping.labels())

    with PoliteClient(wp.http) as client:
        result = run_query(client, wp, out_dir)
        persons = people(result)
        files_of = {p.qid: photo_files(p) for p in persons}
        cands, excluded = candidates_from_people(persons, mapping, required)
        cands, dropped = select_groups(cands, spec, out_dir)
        excluded += dropped
        cands, dropped = limit_per_group(cands, spec, wp.max_images_per_group, params.seed)
        excluded += dropped

        names = [n for c in cands for n in files_of[c.image_id]]
        records = commons_metadata(client, wp, names, out_dir, width)
        images_dir = out_dir / IMAGES_DIR
        choices, dropped = _choices(cands, files_of, records, images_dir)
        excluded += dropped
        _log_licences(dropped, len(cands))
        chosen, failed = download_people(
            client, choices, records, images_dir, params.model.max_pixels
        )

    ready = []
    for c in cands:
        if c.image_id in failed:
            excluded.append(Exclusion(c.image_id, "", f"download failed: {failed[c.image_id]}"))
        if c.image_id not in chosen:
            continue
        name, url, done = chosen[c.image_id]
        c.meta.update(credit_fields(records[name]), file_name=title_file_name(records[name], name),
                      source_url=url)
        c.file, c.info = done.path, done.payload
        ready.append(c)
    return finalize(
        ready, excluded, params=params, out_path=out, source=SOURCE, values=mapping.labels()
    )
