"""COCO detection JSON <-> geoaug samples.

``bbox`` is ``[x, y, w, h]`` on the same pixel-edge frame geoaug uses, so a box converts by layout only.
A segmentation that is one 4-point polygon becomes a quad (point order kept as written); any other
segmentation (more points, several parts, RLE) follows the ``polygons`` policy and is counted.
Annotation ``id``, ``category_id``, ``iscrowd``, the category name (``label``) and any other keys
(``extra``) travel as table fields, so dropping an object drops all of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np

from ..geometry import signed_area
from ..instances import Boxes, Quads
from ._json_io import dump_json, load_json, numbers
from .box_formats import enclosing_xyxy, from_xyxy, to_xyxy
from .polygons import check_policy, place_polygon
from .sample import FormatError, Sample, bump

_T = TypeVar("_T", Boxes, Quads)

_KNOWN_ANN_KEYS = {"id", "image_id", "category_id", "bbox", "segmentation", "area", "iscrowd"}
_IMAGE_GEOMETRY_KEYS = {"file_name", "width", "height"}


@dataclass
class CocoData:
    samples: list  # one Sample per COCO image, in file order
    categories: list  # COCO category dicts as read
    counts: dict = field(default_factory=dict)  # totals of every sample's counts
    info: dict = field(default_factory=dict)  # other top-level keys (info, licenses, ...)


def read_coco(src: Any, *, polygons: str = "box") -> CocoData:
    """Read COCO detection JSON (a path or a parsed dict).

    Args:
        src: a path to the JSON file, or the parsed dict. polygons: policy for segmentation polygons that are
            not 4-point quads (see ``POLYGON_POLICIES``).

    Returns:
        CocoData: one Sample per image (file order), the categories, summed counts and other top-level keys.

    Raises:
        FormatError: malformed JSON or structure, naming the image/annotation and field (bad bbox,
            unknown image or category id, ...); an unknown polygon policy.
    """
    check_policy(polygons)
    data, where = load_json(src, "coco")
    if not isinstance(data, dict):
        raise FormatError(f"{where}: expected a JSON object with images/annotations/categories")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise FormatError(f"{where}: '{key}' must be a list, got {type(data.get(key)).__name__}")
    categories = data.get("categories", [])
    if not isinstance(categories, list):
        raise FormatError(f"{where}: 'categories' must be a list")
    names = {}
    for i, c in enumerate(categories):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int):
            raise FormatError(f"{where}: categories[{i}].id must be an integer, got {c!r}")
        names[c["id"]] = c.get("name")

    images: dict[Any, dict[str, Any]] = {}
    order: list = []
    for i, im in enumerate(data["images"]):
        iw = f"{where}: images[{i}]"
        if not isinstance(im, dict):
            raise FormatError(f"{iw}: expected an object, got {im!r}")
        for k in ("width", "height"):
            if not isinstance(im.get(k), int) or isinstance(im.get(k), bool) or im[k] <= 0:
                raise FormatError(f"{iw}.{k}: expected a positive integer, got {im.get(k)!r}")
        if "id" not in im or im["id"] in images:
            raise FormatError(f"{iw}.id: missing or duplicate image id {im.get('id')!r}")
        images[im["id"]] = {"im": im, "boxes": [], "quads": [], "counts": {}}
        order.append(im["id"])

    for i, ann in enumerate(data["annotations"]):
        _read_annotation(ann, f"{where}: annotations[{i}]", images, names, polygons)

    samples: list[Sample] = []
    totals: dict[str, int] = {}
    for image_id in order:
        slot = images[image_id]
        im = slot["im"]
        meta = {k: v for k, v in im.items() if k not in _IMAGE_GEOMETRY_KEYS}
        sample = Sample(
            im.get("file_name"),
            im["width"],
            im["height"],
            _table(Boxes, slot["boxes"], bool(names)),
            _table(Quads, slot["quads"], bool(names)),
            meta=meta,
            counts=slot["counts"],
        )
        for k, n in sample.counts.items():
            bump(totals, k, n)
        samples.append(sample)
    info = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    return CocoData(samples, categories, totals, info)


def _read_annotation(ann: Any, aw: str, images: dict, names: dict, policy: str) -> None:
    if not isinstance(ann, dict):
        raise FormatError(f"{aw}: expected an object, got {ann!r}")
    if "id" in ann:
        aw = f"{aw} (id {ann['id']!r})"
    if ann.get("image_id") not in images:
        raise FormatError(f"{aw}.image_id: no image with id {ann.get('image_id')!r}")
    cat = ann.get("category_id")
    if not isinstance(cat, int) or (names and cat not in names):
        raise FormatError(f"{aw}.category_id: {cat!r} is not a known category id")
    x, y, w, h = numbers(f"{aw}.bbox", ann.get("bbox"), 4)
    if w < 0 or h < 0:
        raise FormatError(f"{aw}.bbox: width and height must be >= 0, got {ann['bbox']!r}")
    box = to_xyxy([[x, y, w, h]], "coco")[0]
    row = {
        "id": ann.get("id"),
        "category_id": cat,
        "label": names.get(cat),
        "iscrowd": ann.get("iscrowd", 0),
        "extra": {k: v for k, v in ann.items() if k not in _KNOWN_ANN_KEYS},
    }
    slot = images[ann["image_id"]]
    seg = ann.get("segmentation")
    if seg is None or seg == []:
        slot["boxes"].append((box, row))
        return
    if isinstance(seg, dict):  # RLE mask: no polygon to offer
        placed = place_polygon(None, box, policy, slot["counts"], f"{aw}.segmentation")
    else:
        if not isinstance(seg, list) or not all(isinstance(p, list) for p in seg):
            raise FormatError(f"{aw}.segmentation: expected a list of polygons [x1, y1, x2, y2, ...] or RLE")
        polys = []
        for p_i, p in enumerate(seg):
            flat = numbers(f"{aw}.segmentation[{p_i}]", p)
            if len(flat) % 2 or len(flat) < 6:
                raise FormatError(
                    f"{aw}.segmentation[{p_i}]: a polygon needs an even count >= 6 of numbers, got {len(flat)}"
                )
            polys.append(np.asarray(flat).reshape(-1, 2))
        if len(polys) == 1 and len(polys[0]) == 4:
            slot["quads"].append((polys[0], row))
            return
        placed = place_polygon(np.concatenate(polys), box, policy, slot["counts"], f"{aw}.segmentation")
    if placed is not None:
        slot["boxes" if placed[0] == "box" else "quads"].append((placed[1], row))


def _table(cls: type[_T], rows: list, has_names: bool) -> _T:
    geom = np.array([g for g, _ in rows], dtype=np.float64)
    fields = {k: [r[k] for _, r in rows] for k in ("id", "category_id", "label", "iscrowd", "extra")}
    if not any(fields["extra"]):
        del fields["extra"]
    if not has_names:
        del fields["label"]
    return cls(geom if len(rows) else None, **fields)


def write_coco(
    samples: Any,
    categories: Any = None,
    path: str | os.PathLike[str] | None = None,
    *,
    info: dict | None = None,
) -> dict:
    """Samples -> COCO detection dict (and a JSON file when ``path`` is given).

    Category ids come from each row's ``category_id`` field, else from its ``label`` through
    ``categories`` (built from the sorted labels when not given). Annotation ids come from the ``id``
    field when present (they must stay unique), else are numbered from 1. ``area`` is recomputed (box
    area, or the quad's polygon area): after augmentation the old value would be wrong.

    Raises:
        FormatError: a sample without a known size, or a row whose category cannot be resolved.
    """
    samples = list(samples)
    if categories is None:
        labels = sorted({lab for s in samples for t in (s.boxes, s.quads) for lab in t.fields.get("label", [])})
        categories = [{"id": i + 1, "name": lab} for i, lab in enumerate(labels)]
    by_name = {c.get("name"): c["id"] for c in categories}
    out_images, out_anns, used_ids = [], [], set()
    next_image_id = 1 + max([s.meta["id"] for s in samples if isinstance(s.meta.get("id"), int)], default=0)
    pending: list[tuple] = []
    for s_i, s in enumerate(samples):
        sw = f"samples[{s_i}]"
        if len(s.lines):
            raise FormatError(f"{sw}: has {len(s.lines)} lines; COCO detection has no polylines")
        if s.size is None:
            raise FormatError(f"{sw}: COCO images need width and height")
        image_id = s.meta.get("id")
        if image_id is None:
            image_id, next_image_id = next_image_id, next_image_id + 1
        meta = {k: v for k, v in s.meta.items() if k != "id"}
        out_images.append(
            {"id": image_id, "file_name": s.image, "width": int(s.width), "height": int(s.height), **meta}
        )
        xywh = from_xyxy(s.boxes.xyxy, "coco")
        for r in range(len(s.boxes)):
            pending.append((f"{sw}.boxes[{r}]", s.boxes, r, image_id, xywh[r], (xywh[r][2] * xywh[r][3]), None))
        qbox = from_xyxy(enclosing_xyxy(s.quads.points), "coco")
        qarea = np.abs(signed_area(s.quads.points)) if len(s.quads) else []
        for r in range(len(s.quads)):
            pending.append(
                (f"{sw}.quads[{r}]", s.quads, r, image_id, qbox[r], qarea[r], [s.quads.points[r].reshape(-1).tolist()])
            )
    for _, table, r, *_ in pending:
        ann_id = table.fields.get("id", [None] * len(table))[r]
        if ann_id is not None:
            used_ids.add(ann_id)
    next_ann_id = 1 + max([i for i in used_ids if isinstance(i, int)], default=0)
    seen = set()
    for ow, table, r, image_id, xywh, area, seg in pending:
        ann_id = table.fields.get("id", [None] * len(table))[r]
        if ann_id is None:
            ann_id, next_ann_id = next_ann_id, next_ann_id + 1
        if ann_id in seen:
            raise FormatError(f"{ow}.id: annotation id {ann_id!r} is used twice")
        seen.add(ann_id)
        ann = {
            "id": ann_id,
            "image_id": image_id,
            "category_id": _category(ow, table, r, by_name),
            "bbox": [float(v) for v in xywh],
            "area": float(area),
            "iscrowd": int(table.fields.get("iscrowd", [0] * len(table))[r]),
        }
        if seg is not None:
            ann["segmentation"] = seg
        ann.update(table.fields.get("extra", [{}] * len(table))[r] or {})
        out_anns.append(ann)
    out = {**(info or {}), "images": out_images, "annotations": out_anns, "categories": list(categories)}
    dump_json(out, path)
    return out


def _category(where: str, table: Boxes | Quads, r: int, by_name: dict[Any, int]) -> int:
    if "category_id" in table.fields:
        cat = table.fields["category_id"][r]
        if not isinstance(cat, (int, np.integer)):
            raise FormatError(f"{where}.category_id: expected an integer, got {cat!r}")
        return int(cat)
    if "label" in table.fields:
        lab = table.fields["label"][r]
        if lab not in by_name:
            raise FormatError(f"{where}.label: {lab!r} is not among the categories {sorted(map(str, by_name))}")
        return by_name[lab]
    raise FormatError(f"{where}: needs a 'category_id' or 'label' field to name its COCO category")


__all__ = ["CocoData", "read_coco", "write_coco"]
