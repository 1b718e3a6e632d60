"""Run one cropper on probe composites: hard and soft outcomes per member, per setting.

The composites are the audit's own tuples re-composed by :mod:`.recompose` and drawn by the
one renderer (:func:`cropaudit.stages.pair_saliency.render_tuple`); outcomes are the
saliency stage's (:func:`cropaudit.stages.pair_saliency.member_outcomes`) plus the soft
outcomes of :mod:`.soft`. Grid settings also record, per aspect ratio, whether the cropper's
crop of the grid keeps each member's face (WACV-style survival).

A setting whose composites are exactly the baseline's (e.g. padding 0, the audit's own
layout) and are not re-encoded reuses the baseline's outcomes instead of running again:
croppers are deterministic, and the probe suite stays cheap.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from cropaudit.croppers.base import Cropper, Cropping
from cropaudit.engine.types import ImageFailure
from cropaudit.errors import InputFileError
from cropaudit.faces.geometry import Box, box_in_composite, kept_fraction
from cropaudit.probes.params import ProbesParams
from cropaudit.probes.recompose import ProbeSetting, probe_pairs, reencode
from cropaudit.probes.soft import soft_outcomes
from cropaudit.stages.pair_saliency import (
    MemberImages,
    geometry_of,
    member_outcomes,
    render_tuple,
)

#: Geometry columns that decide whether a probe composite equals its baseline composite.
GEOMETRY = ("image_id", "position", "x", "y", "width", "height", "composite_width",
            "composite_height")
#: Columns of the counterfactual-edit table (:func:`run_edits`), also when it has no rows.
EDIT_COLUMNS = ("cropper", "image_id", "group", "edit", "setting", "value", "order",
                "edited_won", "score_max_original", "score_max_edited", "delta_max")
#: Share of a face box a crop must keep for the face to "survive" the crop.
SURVIVAL_FRACTION = 0.5


def kept_column(aspect_ratio: float) -> str:
    """Column of grid tables saying whether a member's face survives that crop."""
    return f"kept_ar{aspect_ratio:g}"


def face_boxes(faces: pd.DataFrame | None) -> dict[str, Box]:
    """image_id -> primary face box, in the image's own pixels (images with a face only)."""
    if faces is None or faces.empty:
        return {}
    primary = faces[faces["primary"].astype(bool) & faces["width"].notna()]
    return {str(r.image_id): Box(float(r.x), float(r.y), float(r.width), float(r.height))
            for r in primary.itertuples(index=False)}


def survival(cropping: Cropping, rows: pd.DataFrame, boxes: Mapping[str, Box],
             sizes: Mapping[str, tuple[int, int]]) -> list[dict[str, bool]]:
    """Per member: does each crop keep ≥ half its face box (its whole rectangle if faceless)?"""
    geometry = geometry_of(rows)
    out = []
    for r, placement in zip(rows.itertuples(index=False), geometry.placements, strict=True):
        box = boxes.get(str(r.image_id))
        mapped = (box_in_composite(box, placement, sizes.get(str(r.image_id)))
                  if box is not None else None)
        target = mapped or Box.of_placement(placement)
        out.append({kept_column(c.aspect_ratio): kept_fraction(target, c) >= SURVIVAL_FRACTION
                    for c in cropping.crops})
    return out


def _signature(rows: pd.DataFrame) -> tuple:
    return tuple(rows[list(GEOMETRY)].itertuples(index=False, name=None))


def run_setting(
    sub: pd.DataFrame,
    setting: ProbeSetting,
    *,
    cropper: Cropper,
    images: MemberImages,
    sizes: Mapping[str, tuple[int, int]],
    params: ProbesParams,
    aspect_ratios: Sequence[float] = (),
    faces: pd.DataFrame | None = None,
    baseline: pd.DataFrame | None = None,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Outcome rows (probe rows + outcome, soft and survival columns) of one setting."""
    rows = probe_pairs(sub, setting, sizes, params)
    tuples = [t for _, t in rows.groupby("tuple_id", sort=True)]
    if baseline is not None and setting.kind != "jpeg" and setting.kind != "grid":
        base = {tid: t for tid, t in baseline.groupby("tuple_id", sort=True)}
        if all(tid in base and _signature(t) == _signature(base[tid])
               for tid, t in ((int(t["tuple_id"].iloc[0]), t) for t in tuples)):
            reused = baseline.copy()
            reused["probe"], reused["setting"] = setting.kind, setting.key
            return reused
    ratios = list(aspect_ratios) if setting.kind == "grid" else []
    boxes = face_boxes(faces)

    def composites():
        for t in tuples:
            yield reencode(render_tuple(t, images), setting)

    sources = [f"{setting.key} tuple {int(t['tuple_id'].iloc[0])}" for t in tuples]
    records: list[dict[str, object]] = []
    results = cropper.crop_images(composites(), aspect_ratios=ratios, sources=sources,
                                  progress=progress)
    for t, result in zip(tuples, results, strict=True):
        if isinstance(result, ImageFailure):
            raise InputFileError(f"{result.source}: cropper {cropper.name} failed "
                                 f"({result.message})")
        geometry = geometry_of(t)
        hard = member_outcomes(result.saliency, geometry)
        soft = soft_outcomes(result.saliency, geometry, params.top_k)
        kept = survival(result, t, boxes, sizes) if ratios else [{} for _ in hard]
        records += [{**h, **s, **k} for h, s, k in zip(hard, soft, kept, strict=True)]
    outcomes = pd.DataFrame(records)
    out = pd.concat([rows.reset_index(drop=True), outcomes], axis=1)
    out["cropper"] = cropper.name
    return out


def run_probe(sub: pd.DataFrame, settings: Sequence[ProbeSetting], **kwargs) -> pd.DataFrame:
    """Every setting of one probe kind, concatenated (see :func:`run_setting`)."""
    frames = [run_setting(sub, s, **kwargs) for s in settings]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def setting_values(frame: pd.DataFrame, settings: Sequence[ProbeSetting]) -> pd.DataFrame:
    """Add ``value`` (the setting's number, NaN if none) for dose–response axes."""
    numeric = {s.key: s.numeric for s in settings}
    return frame.assign(value=frame["setting"].map(numeric).astype(float))



def _max_score(result) -> float:
    return float(result.scores.max()) if result.scores.size else float("nan")


def run_edits(selected: pd.DataFrame, edits: Sequence, *, cropper: Cropper,
              images: MemberImages, background: tuple[int, int, int] = (255, 255, 255),
              progress: bool | None = None) -> pd.DataFrame:
    """Per image, edit and order: the edited image's max score against the original's (alone)
    and whether the edited member wins a side-by-side pair with the original (both orders).

    ``selected``: :func:`cropaudit.probes.edits.select_images`; ``edits``: its
    :class:`~cropaudit.probes.edits.Edit` list.
    """
    from cropaudit.geometry.placement import compose
    from cropaudit.imaging.composite import render_composite
    from cropaudit.probes.edits import apply_edit

    rows: list[dict[str, object]] = []
    for r in selected.itertuples(index=False):
        w, h = int(r.width), int(r.height)
        original = images.get(str(r.image_id), w, h)
        face = Box(r.face_x, r.face_y, r.face_w, r.face_h)
        edited = [apply_edit(original, face, e) for e in edits]
        geometry = compose([(w, h), (w, h)])
        singles = [original, *edited]
        pairs = [render_composite([e, original], geometry, background) for e in edited]
        pairs += [render_composite([original, e], geometry, background) for e in edited]
        source = f"image {r.image_id}"
        results = list(cropper.crop_images([*singles, *pairs], aspect_ratios=(),
                                           sources=[source] * (len(singles) + len(pairs)),
                                           progress=progress))
        failed = [x for x in results if isinstance(x, ImageFailure)]
        if failed:
            raise InputFileError(f"{failed[0].source}: cropper {cropper.name} failed "
                                 f"({failed[0].message})")
        ok = [x for x in results if isinstance(x, Cropping)]  # all of them (checked above)
        base_max = _max_score(ok[0].saliency)
        n = len(edits)
        for i, e in enumerate(edits):
            edited_max = _max_score(ok[1 + i].saliency)
            for order, res in enumerate((ok[1 + n + i].saliency, ok[1 + 2 * n + i].saliency)):
                edited_index = 0 if order == 0 else 1
                winner = geometry.member_at(*res.salient_point)
                rows.append({"cropper": cropper.name, "image_id": str(r.image_id),
                             "group": str(r.group), "edit": e.kind, "setting": e.key,
                             "value": e.numeric, "order": order,
                             "edited_won": winner == edited_index,
                             "score_max_original": base_max, "score_max_edited": edited_max,
                             "delta_max": edited_max - base_max})
    return pd.DataFrame(rows, columns=list(EDIT_COLUMNS))
