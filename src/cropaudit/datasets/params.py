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


class DemoSourceParams(BaseModel):
    """Options of the embedded, generated demo dataset (filled in by the workflow issue)."""

    model_config = ConfigDict(extra="forbid")


class WikicelebSourceParams(BaseModel):
    """Options of the Wikidata/Commons source (filled in by the datasets issue)."""

    model_config = ConfigDict(extra="forbid")


class ManifestSourceParams(BaseModel):
    """Options of the folder / CSV manifest sources (filled in by the datasets issue)."""

    model_config = ConfigDict(extra="forbid")


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
