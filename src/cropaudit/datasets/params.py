"""``dataset:`` section of params.yaml.

Each source's own options live in its own sub-section (``dataset.demo``, ``dataset.wikiceleb``,
...); only the one named by ``dataset.source`` is used. ``groups`` says which attribute columns
form the groups that comparisons are made between.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class GroupParams(BaseModel):
    """How images are grouped for comparisons."""

    model_config = ConfigDict(extra="forbid")

    attributes: list[str] = Field(
        default_factory=lambda: ["race", "gender"],
        min_length=1,
        description="attribute columns whose values, joined by '_', form the group label",
    )
    min_group_size: int = Field(1, ge=1, description="groups with fewer images are dropped")
    include: list[str] | None = Field(
        None,
        description="group labels to keep (e.g. [black_female, white_male]); null keeps all. "
        "Sources that download skip the other groups' images",
    )


class DemoSourceParams(BaseModel):
    """Options of the embedded, generated demo dataset (filled in by the workflow issue)."""

    model_config = ConfigDict(extra="forbid")


#: Thumbnail widths Wikimedia renders and caches; other widths are served from (or steered
#: to) these steps, and the media servers may throttle requests for non-standard sizes.
WIKIMEDIA_THUMB_STEPS: tuple[int, ...] = (
    20, 40, 60, 120, 250, 330, 500, 960, 1280, 1920, 3840
)


class HttpParams(BaseModel):
    """How politely the downloader talks to a public service (Wikimedia etiquette by default).

    Wikimedia's User-Agent policy asks every client to name itself and give a contact; its robot
    policy asks media downloads to keep a total concurrency of at most 2 and a bounded rate.
    """

    model_config = ConfigDict(extra="forbid")

    contact: str = Field(
        "",
        description="e-mail or URL put in the User-Agent (required; env CROPAUDIT_CONTACT "
        "is used when empty)",
    )
    user_agent: str | None = Field(
        None, description="full User-Agent override; default 'cropaudit/<version> (<contact>) "
        "python-requests/<version>'"
    )
    concurrency: int = Field(2, ge=1, le=16, description="parallel downloads")
    max_mbps: float | None = Field(
        20.0, gt=0, description="cap on the total download rate in megabits/s; null = no cap"
    )
    timeout_s: float = Field(30.0, gt=0, description="connect and read timeout per request")
    max_attempts: int = Field(5, ge=1, description="tries per request before giving up")
    backoff_initial_s: float = Field(
        2.0, ge=0, description="wait after the first failure; doubles per attempt"
    )
    backoff_max_s: float = Field(120.0, ge=0, description="longest wait between attempts")
    retry_after_max_s: float = Field(
        600.0, ge=0, description="a Retry-After longer than this fails the request instead"
    )


class WikicelebSourceParams(BaseModel):
    """Options of the Wikidata/Commons source: the paper's WikiCeleb population.

    The endpoints are parameters so that tests (and mirrors) can point them elsewhere.
    """

    model_config = ConfigDict(extra="forbid")

    sparql_endpoint: str = Field(
        "https://query.wikidata.org/sparql", description="Wikidata query service"
    )
    commons_api: str = Field(
        "https://commons.wikimedia.org/w/api.php", description="Commons MediaWiki API"
    )
    image_base: str = Field(
        "https://commons.wikimedia.org/wiki/Special:FilePath/",
        description="prefix of image URLs; the Commons file name and ?width=N are appended",
    )
    query_file: str | None = Field(
        None, description="SPARQL query file; null = the packaged wikiceleb.rq"
    )
    mapping_file: str | None = Field(
        None,
        description="QID -> group value mapping (TSV); null = the packaged paper mapping "
        "wikiceleb_groups.tsv",
    )
    thumb_width: int = Field(
        960, ge=16, description="thumbnail width in pixels (Wikimedia standard steps: "
        + ", ".join(str(w) for w in WIKIMEDIA_THUMB_STEPS) + ")"
    )
    requery: bool = Field(
        False, description="run the query again even if the stored result matches the query"
    )
    max_images_per_group: int | None = Field(
        None, ge=1, description="seeded random subset per group (null = all), e.g. for a trial"
    )
    metadata_batch: int = Field(50, ge=1, le=50, description="file titles per Commons API call")
    maxlag: int | None = Field(
        5, ge=0, description="Commons API maxlag (s): back off when the servers lag; null = off"
    )
    query_timeout_s: float = Field(300.0, gt=0, description="read timeout of the SPARQL query")
    http: HttpParams = Field(default_factory=HttpParams)


ManifestPreset = Literal["none", "fairface", "utkface"]


class ManifestSourceParams(BaseModel):
    """Options of the folder / CSV manifest sources (any labelled image collection).

    Fields left null take the preset's value (``fairface``: label CSV with columns
    ``file, age, gender, race``; ``utkface``: ``age_gender_race_date.jpg`` file names), else the
    generic default. Values are mapped to group labels through ``values``; a value with no entry
    in an attribute's map is reported and its image excluded.
    """

    model_config = ConfigDict(extra="forbid")

    preset: ManifestPreset = Field("none", description="none | fairface | utkface")
    root: str | None = Field(
        None, description="image folder (folder source); base of relative CSV paths "
        "(csv source, default: the CSV file's folder)"
    )
    csv: str | None = Field(None, description="manifest / label CSV (csv source)")
    path_column: str | None = Field(
        None, description="CSV column holding the image path (default 'path'; fairface 'file')"
    )
    pattern: str | None = Field(
        None,
        description="folder layout relative to root: {attribute} placeholders, * and ** "
        "globs (default '{race}/{gender}/*'; utkface '{age}_{gender}_{race}_*')",
    )
    values: dict[str, dict[str, str]] | None = Field(
        None, description="per attribute, raw value -> group label (replaces the preset's map "
        "for the attributes it names)"
    )
    keep_columns: list[str] | None = Field(
        None, description="extra CSV columns copied into the table (default: the preset's)"
    )
    materialize: Literal["copy", "hardlink", "symlink", "reference"] = Field(
        "copy",
        description="how images enter data/<dataset>/: copy (self-contained, DVC-friendly), "
        "hardlink, symlink, or reference (table points at the original files)",
    )


class DatasetParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: Literal["demo", "wikiceleb", "folder", "csv"] = "demo"
    name: str | None = Field(
        None, description="dataset folder name under data/ (default: the source name)"
    )
    groups: GroupParams = Field(default_factory=GroupParams)
    demo: DemoSourceParams = Field(default_factory=DemoSourceParams)
    wikiceleb: WikicelebSourceParams = Field(default_factory=WikicelebSourceParams)
    manifest: ManifestSourceParams = Field(default_factory=ManifestSourceParams)

    @property
    def dataset_name(self) -> str:
        return self.name or self.source
