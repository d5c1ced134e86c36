"""COCO detection, instance-segmentation and keypoint JSON <-> geoaug samples.

``bbox`` is ``[x, y, w, h]`` on the same pixel-edge frame geoaug uses, so a box converts by layout only;
segmentation polygons are on that frame too. Annotation ``id``, ``category_id``, ``iscrowd``, the category
name (``label``) and any other keys (``extra``) travel as table fields of every row an annotation gives, so
dropping an object drops all of them, and writing joins an annotation's rows back by ``id``.

Reading (``polygons="polygon"``, the default): every annotation's ``bbox`` is a row of ``boxes``; its
segmentation polygons are rows of ``polygons`` (one per part), or its RLE mask a row of ``masks``; its
``keypoints`` a row of ``points``. Under the older policies (``box``, ``skip``, ``min_area_rect``,
``error``) a segmentation that is one 4-point polygon becomes a quad instead of the box, and any other
follows the policy, counted; keypoints are read under every policy.

Keypoints: COCO's keypoint coordinates are pixel indices (an integer is a pixel's centre; detectron2 adds
0.5 when reading them), so reading adds 0.5 and writing subtracts it; a keypoint with ``v = 0`` is written
as ``0, 0, 0``, as COCO writes unlabelled ones.
"""

from __future__ import annotations

import os
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import GeometryError
from ..geometry import signed_area
from ..instances import Boxes, Quads, _Table
from ..kinds.masks import Masks
from ..kinds.points import Points
from ..kinds.polygons import Polygons
from ..rle import decode
from ._json_io import dump_json, load_json, numbers
from .box_formats import enclosing_xyxy, from_xyxy, to_xyxy
from .polygons import check_policy, place_polygon
from .sample import FormatError, Sample, bump

_KNOWN_ANN_KEYS = {
    "id",
    "image_id",
    "category_id",
    "bbox",
    "segmentation",
    "area",
    "iscrowd",
    "keypoints",
    "num_keypoints",
}
_IMAGE_GEOMETRY_KEYS = {"file_name", "width", "height"}
_FIELDS = ("id", "category_id", "label", "iscrowd", "extra")
BBOX_FROM = ("boxes", "segmentation")


@dataclass
class CocoData:
    samples: list  # one Sample per COCO image, in file order
    categories: list  # COCO category dicts as read
    counts: dict = field(default_factory=dict)  # totals of every sample's counts
    info: dict = field(default_factory=dict)  # other top-level keys (info, licenses, ...)


def read_coco(src: Any, *, polygons: str = "polygon", keypoint_flip_pairs: Any = "auto") -> CocoData:
    """Read COCO JSON (a path or a parsed dict): detection, instance segmentation and keypoints.

    Under ``polygons="polygon"`` (the default) every annotation gives a box (its ``bbox``), its segmentation
    polygons as ``polygons`` rows (several parts: several rows, each with the annotation's fields, ``id``
    included) or its RLE mask (compressed or uncompressed counts, ``iscrowd`` 1 as a rule) as an instance
    ``masks`` row, all sharing the annotation's fields; a 4-point polygon is a polygon like any other. The
    older policies keep the bbox only for annotations without segmentation: a segmentation that is one
    4-point polygon becomes a quad, any other (more points, several parts, RLE) follows the policy (``box``:
    the bbox; ``skip``; ``min_area_rect``: a quad; ``error``) and is counted.

    ``keypoints`` ``[x, y, v] * K`` become one ``points`` row per annotation (under every policy): a
    ``Points`` table ``(N, K, 2)`` per image with COCO's flags ``v`` and the joint names of the category's
    ``keypoints`` list. COCO keypoints are pixel indices (an integer is a pixel's centre): reading adds 0.5
    to put them on geoaug's pixel-edge frame (``write_coco`` subtracts it again), so an unlabelled ``0, 0, 0``
    reads as ``(0.5, 0.5)`` with flag 0.

    Args:
        src: a path to the JSON file, or the parsed dict.
        polygons: ``"polygon"`` (keep segmentations as polygons and masks), or a policy for segmentations
            that are not 4-point quads (see ``POLYGON_POLICIES``).
        keypoint_flip_pairs: the joints that swap when an image is mirrored. ``"auto"``: every pair of
            joint names that differ by ``left``/``right`` (COCO's ``left_eye``/``right_eye``, ...); None:
            none; or a list of (name or index) pairs.

    Returns:
        CocoData: one Sample per image (file order), the categories, summed counts and other top-level keys.

    Raises:
        FormatError: an unknown ``polygons`` policy; a file that is not UTF-8 JSON; a malformed structure,
            naming the image/annotation and field (not an object, bad width/height, missing, duplicate or
            unhashable image id, unknown image or category id, bad bbox, negative bbox size, malformed
            segmentation or RLE, an RLE whose size is not the image's, malformed keypoints or flags,
            keypoint annotations of one image with different joint counts or names, bad category
            ``keypoints`` names or flip pairs); a non-quad polygon under ``polygons="error"``.
        GeometryError: a coordinate geoaug refuses (beyond +-2^53), naming the row.
        OSError: ``src`` is a path that cannot be opened.
    """
    check_policy(polygons, extra=("polygon",))
    data, where = load_json(src, "coco")
    if not isinstance(data, dict):
        raise FormatError(f"{where}: expected a JSON object with images/annotations/categories")
    for key in ("images", "annotations"):
        if not isinstance(data.get(key), list):
            raise FormatError(f"{where}: '{key}' must be a list, got {type(data.get(key)).__name__}")
    categories = data.get("categories", [])
    if not isinstance(categories, list):
        raise FormatError(f"{where}: 'categories' must be a list")
    names: dict[int, Any] = {}
    joints: dict[int, tuple[str, ...]] = {}
    for i, c in enumerate(categories):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int):
            raise FormatError(f"{where}: categories[{i}].id must be an integer, got {c!r}")
        names[c["id"]] = c.get("name")
        if "keypoints" in c:
            kp = c["keypoints"]
            if not isinstance(kp, list) or not all(isinstance(n, str) for n in kp) or len(set(kp)) != len(kp):
                raise FormatError(f"{where}: categories[{i}].keypoints must be a list of distinct joint names")
            joints[c["id"]] = tuple(kp)

    images: dict[Any, dict[str, Any]] = {}
    order: list = []
    for i, im in enumerate(data["images"]):
        iw = f"{where}: images[{i}]"
        if not isinstance(im, dict):
            raise FormatError(f"{iw}: expected an object, got {im!r}")
        for k in ("width", "height"):
            if not isinstance(im.get(k), int) or isinstance(im.get(k), bool) or im[k] <= 0:
                raise FormatError(f"{iw}.{k}: expected a positive integer, got {im.get(k)!r}")
        if "id" not in im or not isinstance(im["id"], Hashable) or im["id"] in images:
            raise FormatError(f"{iw}.id: missing, duplicate or unhashable image id {im.get('id')!r}")
        images[im["id"]] = {"im": im, "where": iw, "counts": {}, **{k: [] for k in _KINDS}}
        order.append(im["id"])

    for i, ann in enumerate(data["annotations"]):
        _read_annotation(ann, f"{where}: annotations[{i}]", images, names, joints, polygons)

    samples: list[Sample] = []
    totals: dict[str, int] = {}
    for image_id in order:
        slot = images[image_id]
        im = slot["im"]
        meta = {k: v for k, v in im.items() if k not in _IMAGE_GEOMETRY_KEYS}
        has_names = bool(names)
        sample = Sample(
            im.get("file_name"),
            im["width"],
            im["height"],
            Boxes(_geometry(slot["boxes"]), **_fields(slot["boxes"], has_names)),
            Quads(_geometry(slot["quads"]), **_fields(slot["quads"], has_names)),
            meta=meta,
            counts=slot["counts"],
            points=_points(slot["points"], has_names, keypoint_flip_pairs, slot["where"]),
            polygons=Polygons([g for g, _ in slot["polygons"]], **_fields(slot["polygons"], has_names)),
            masks=_masks(slot["masks"], has_names),
        )
        for k, n in sample.counts.items():
            bump(totals, k, n)
        samples.append(sample)
    info = {k: v for k, v in data.items() if k not in ("images", "annotations", "categories")}
    return CocoData(samples, categories, totals, info)


_KINDS = ("boxes", "quads", "polygons", "masks", "points")


def _read_annotation(ann: Any, aw: str, images: dict, names: dict, joints: dict, policy: str) -> None:
    if not isinstance(ann, dict):
        raise FormatError(f"{aw}: expected an object, got {ann!r}")
    if "id" in ann:
        aw = f"{aw} (id {ann['id']!r})"
    if not isinstance(ann.get("image_id"), Hashable) or ann.get("image_id") not in images:
        raise FormatError(f"{aw}.image_id: no image with id {ann.get('image_id')!r}")
    cat = ann.get("category_id")
    if not isinstance(cat, int) or (names and cat not in names):
        raise FormatError(f"{aw}.category_id: {cat!r} is not a known category id")
    x, y, w, h = numbers(f"{aw}.bbox", ann.get("bbox"), 4)
    if w < 0 or h < 0:
        raise FormatError(f"{aw}.bbox: width and height must be >= 0, got {ann['bbox']!r}")
    box = to_xyxy([[x, y, w, h]], "coco")[0]
    extra = {k: v for k, v in ann.items() if k not in _KNOWN_ANN_KEYS}
    slot = images[ann["image_id"]]

    def row() -> dict[str, Any]:  # each row its own extra dict: editing one row's leaves the others alone
        return {
            "id": ann.get("id"),
            "category_id": cat,
            "label": names.get(cat),
            "iscrowd": ann.get("iscrowd", 0),
            "extra": dict(extra),
        }

    if "keypoints" in ann:
        slot["points"].append((_keypoints(ann["keypoints"], f"{aw}.keypoints", joints.get(cat), cat), row()))
    seg = ann.get("segmentation")
    if policy == "polygon":
        slot["boxes"].append((box, row()))
        if seg is None or seg == []:
            return
        if isinstance(seg, dict):
            h_im, w_im = slot["im"]["height"], slot["im"]["width"]
            try:
                mask = decode(seg, h_im, w_im, where=f"{aw}.segmentation")
            except GeometryError as e:
                raise FormatError(str(e)) from None
            slot["masks"].append((mask, row()))
            return
        for poly in _polygon_parts(seg, aw):
            slot["polygons"].append((poly, row()))
        return
    if seg is None or seg == []:
        slot["boxes"].append((box, row()))
        return
    if isinstance(seg, dict):  # RLE mask: no polygon to offer
        placed = place_polygon(None, box, policy, slot["counts"], f"{aw}.segmentation")
    else:
        polys = _polygon_parts(seg, aw)
        if len(polys) == 1 and len(polys[0]) == 4:
            slot["quads"].append((polys[0], row()))
            return
        placed = place_polygon(np.concatenate(polys), box, policy, slot["counts"], f"{aw}.segmentation")
    if placed is not None:
        slot["boxes" if placed[0] == "box" else "quads"].append((placed[1], row()))


def _polygon_parts(seg: Any, aw: str) -> list[np.ndarray]:
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
    return polys


def _keypoints(v: Any, where: str, names: tuple[str, ...] | None, cat: int) -> tuple:
    """(xy (K, 2) on geoaug's frame, flags (K,), names, where) of one annotation's ``keypoints``."""
    flat = numbers(where, v)
    if len(flat) % 3:
        raise FormatError(f"{where}: expected [x, y, v] per keypoint (a multiple of 3 numbers), got {len(flat)}")
    arr = np.asarray(flat, dtype=np.float64).reshape(-1, 3)
    bad = np.flatnonzero(~np.isin(arr[:, 2], (0, 1, 2)))
    if len(bad):
        j = int(bad[0])
        raise FormatError(f"{where}[{3 * j + 2}]: keypoint {j}'s flag v is {arr[j, 2]:g}, expected 0, 1 or 2")
    if names is not None and len(names) != len(arr):
        raise FormatError(f"{where}: {len(arr)} keypoints, but category {cat} names {len(names)} joints")
    return arr[:, :2] + 0.5, arr[:, 2].astype(np.int8), names, where


def _geometry(rows: list) -> np.ndarray | None:
    return np.array([g for g, _ in rows], dtype=np.float64) if rows else None


def _fields(rows: list, has_names: bool) -> dict[str, Any]:
    fields = {k: [r[k] for _, r in rows] for k in _FIELDS}
    if not any(fields["extra"]):
        del fields["extra"]
    if not has_names:
        del fields["label"]
    return fields


def _points(rows: list, has_names: bool, flip_pairs: Any, image_where: str) -> Points:
    if not rows:
        return Points()
    (xy0, _, names0, where0), _ = rows[0]
    for (xy, _, names, where), _ in rows[1:]:
        if len(xy) != len(xy0) or names != names0:
            raise FormatError(
                f"{where}: {len(xy)} keypoints named {names}, but {where0} of the same image has {len(xy0)} "
                f"named {names0}: one image's keypoint annotations share one layout"
            )
    if isinstance(flip_pairs, str) and flip_pairs == "auto":
        pairs = _left_right_pairs(names0)
    else:
        pairs = flip_pairs
    try:
        return Points(
            np.stack([g[0] for g, _ in rows]),
            flags=np.stack([g[1] for g, _ in rows]),
            names=names0,
            flip_pairs=pairs,
            **_fields([(None, r) for _, r in rows], has_names),
        )
    except GeometryError as e:  # flip pairs naming no joint, or pairing one twice
        raise FormatError(f"{image_where}: keypoints: {e}") from None


def _left_right_pairs(names: Sequence[str] | None) -> list[tuple[int, int]] | None:
    """Joints whose names differ by left/right (``left_eye``/``right_eye``, ``Left hand``/``Right hand``)."""
    if not names:
        return None
    index = {n: j for j, n in enumerate(names)}
    pairs = []
    for j, n in enumerate(names):
        for left, right in (("left", "right"), ("Left", "Right"), ("LEFT", "RIGHT")):
            if left in n and n.replace(left, right) in index:
                pairs.append((j, index[n.replace(left, right)]))
                break
    return pairs or None


def _masks(rows: list, has_names: bool) -> Masks:
    if not rows:
        return Masks()
    return Masks(np.stack([g for g, _ in rows]), type="instance", **_fields(rows, has_names))


def write_coco(
    samples: Any,
    categories: Any = None,
    path: str | os.PathLike[str] | None = None,
    *,
    info: dict | None = None,
    bbox_from: str = "boxes",
) -> dict:
    """Samples -> COCO dict (and a JSON file when ``path`` is given): boxes, quads, polygons, instance masks
    and keypoints.

    Rows of one sample with the same ``id`` field are one annotation: a box gives its ``bbox``; a quad, the
    polygons rows (the parts of one outline: ``segmentation`` is their list, ``area`` the sum of their
    areas) or an instance mask (``segmentation`` as RLE with compressed counts, a string as pycocotools
    writes it; ``area`` its pixels) give its segmentation, at most one of the three; a keypoints row gives
    ``keypoints`` (pixel indices again: 0.5 subtracted; ``0, 0, 0`` where the flag is 0) and
    ``num_keypoints`` (labelled joints). Rows without an ``id`` are annotations of their own (the polygon
    parts a cut made of one row, sharing its ``index``, together), numbered after the largest id used.
    Every row of an annotation must name the same category; ``iscrowd`` and ``extra`` come from its first
    row (boxes, then quads, polygons, masks, points). ``bbox``: the box row's under ``bbox_from="boxes"``
    (the default; a file read back gives the same bbox), else the bounds of the segmentation, else of the
    labelled keypoints (a ``[0, 0, 0, 0]`` without any); ``bbox_from="segmentation"`` takes the
    segmentation's bounds first (tight after a rotation, where the box row encloses the rotated box).
    ``area`` is recomputed: the segmentation's, else the bbox's.

    Category ids come from each row's ``category_id`` field, else from its ``label`` through
    ``categories`` (built from the sorted labels when not given, with the joint names of keypoints whose
    rows carry that label as ``keypoints``).

    Args:
        samples: an iterable of Samples (no lines).
        categories: COCO category dicts (each with an integer ``id`` and a ``name``); None builds them from
            the rows' labels.
        path: where to write the JSON; None only returns the dict.
        info: other top-level keys to write (``info``, ``licenses``, ...).
        bbox_from: ``"boxes"`` or ``"segmentation"``: which geometry an annotation's bbox comes from first.

    Returns:
        The COCO dict: ``images``, ``annotations``, ``categories`` and the keys of ``info``.

    Raises:
        FormatError: a category that is not a mapping with an integer ``id``; an unknown ``bbox_from``; a
            sample holding lines, a label or dense mask map, or masks of another size than its own, or without
            a known size; an annotation id used twice (in two samples, or twice in one kind of one sample,
            or by two segmentations); rows of one annotation naming different categories; a row whose
            category cannot be resolved (a non-integer ``category_id``, a ``label`` not among the categories,
            or neither field); keypoints whose joint names are not their category's ``keypoints``.
        OSError: ``path`` cannot be written.
        TypeError: a field or meta value JSON cannot hold (only when ``path`` is given).
    """
    samples = list(samples)
    if bbox_from not in BBOX_FROM:
        raise FormatError(f"bbox_from must be one of {list(BBOX_FROM)}, got {bbox_from!r}")
    if categories is None:
        categories = _categories_from(samples)
    for c_i, c in enumerate(categories):
        if not isinstance(c, dict) or not isinstance(c.get("id"), int) or isinstance(c.get("id"), bool):
            raise FormatError(f"categories[{c_i}]: expected a mapping with an integer 'id', got {c!r}")
    by_name = {c.get("name"): c["id"] for c in categories}
    joints = {c["id"]: tuple(c["keypoints"]) for c in categories if isinstance(c.get("keypoints"), list)}
    out_images = []
    anns: list[_Ann] = []
    seen: dict[Any, str] = {}  # annotation id -> the row that first used it
    next_image_id = 1 + max([s.meta["id"] for s in samples if isinstance(s.meta.get("id"), int)], default=0)
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
        anns += _Collect(s, sw, image_id, by_name, joints, seen).annotations()
    next_ann_id = 1 + max([int(i) for i in seen if isinstance(i, (int, np.integer))], default=0)
    out_anns = []
    for a in anns:
        if a.id is None:
            a.id, next_ann_id = next_ann_id, next_ann_id + 1
        out_anns.append(a.to_json(bbox_from))
    out = {**(info or {}), "images": out_images, "annotations": out_anns, "categories": list(categories)}
    dump_json(out, path)
    return out


def _categories_from(samples: list) -> list[dict[str, Any]]:
    tables = [t for s in samples for t in (s.boxes, s.quads, s.polygons, s.masks, s.points)]
    labels = sorted({lab for t in tables for lab in t.fields.get("label", [])})
    kp_names: dict[Any, list[str]] = {}
    for s in samples:
        if s.points.names is not None:
            for lab in s.points.fields.get("label", []):
                kp_names.setdefault(lab, list(s.points.names))
    cats: list[dict[str, Any]] = []
    for i, lab in enumerate(labels):
        cats.append({"id": i + 1, "name": lab, **({"keypoints": kp_names[lab]} if lab in kp_names else {})})
    return cats


@dataclass
class _Ann:
    """One annotation being assembled from the rows that share its id."""

    where: str  # its first row
    image_id: Any
    id: Any
    category: int
    iscrowd: int
    extra: dict
    box: list[float] | None = None  # xywh
    seg: Any = None
    seg_kind: str | None = None
    seg_where: str = ""
    seg_area: float = 0.0
    seg_bounds: list[float] | None = None  # xyxy
    keypoints: list[float] | None = None
    num_keypoints: int = 0
    kp_bounds: list[float] | None = None  # xyxy of the labelled keypoints

    def to_json(self, bbox_from: str) -> dict[str, Any]:
        seg_box = None if self.seg_bounds is None else _xywh(self.seg_bounds)
        kp_box = None if self.kp_bounds is None else _xywh(self.kp_bounds)
        order = (self.box, seg_box) if bbox_from == "boxes" else (seg_box, self.box)
        bbox = next((b for b in (*order, kp_box) if b is not None), [0.0, 0.0, 0.0, 0.0])
        ann: dict[str, Any] = {
            "id": self.id,
            "image_id": self.image_id,
            "category_id": self.category,
            "bbox": bbox,
            "area": float(self.seg_area if self.seg is not None else bbox[2] * bbox[3]),
            "iscrowd": self.iscrowd,
        }
        if self.seg is not None:
            ann["segmentation"] = self.seg
        if self.keypoints is not None:
            ann["keypoints"] = self.keypoints
            ann["num_keypoints"] = self.num_keypoints
        ann.update(self.extra or {})
        return ann


def _xywh(xyxy: Any) -> list[float]:
    return [float(v) for v in from_xyxy(np.asarray([xyxy], dtype=np.float64), "coco")[0]]


def _union(a: list[float] | None, b: Any) -> list[float]:
    b = [float(v) for v in b]
    return b if a is None else [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]


class _Collect:
    """The annotations of one sample: its rows joined by ``id``."""

    def __init__(
        self, s: Sample, sw: str, image_id: Any, by_name: dict, joints: dict[int, tuple], seen: dict[Any, str]
    ) -> None:
        self.s, self.sw, self.image_id, self.by_name, self.joints, self.seen = s, sw, image_id, by_name, joints, seen
        self.anns: dict[Any, _Ann] = {}

    def annotations(self) -> list[_Ann]:
        s, sw = self.s, self.sw
        xywh = from_xyxy(s.boxes.xyxy, "coco")
        for r in range(len(s.boxes)):
            a = self._ann(s.boxes, r, f"{sw}.boxes[{r}]", ("boxes", r))
            if a.box is not None:
                raise FormatError(f"{sw}.boxes[{r}].id: annotation id {a.id!r} is used twice (also {a.where})")
            a.box = [float(v) for v in xywh[r]]
        if len(s.quads):
            q_area = np.abs(signed_area(s.quads.points))
            q_bounds = enclosing_xyxy(s.quads.points)
            for r in range(len(s.quads)):
                a = self._seg(s.quads, r, f"{sw}.quads[{r}]", ("quads", r), "quads")
                a.seg, a.seg_area = [s.quads.points[r].reshape(-1).tolist()], float(q_area[r])
                a.seg_bounds = [float(v) for v in q_bounds[r]]
        if len(s.polygons):
            areas, bounds = s.polygons.area, s.polygons.bounds()
            for r, poly in enumerate(s.polygons.points):
                a = self._seg(s.polygons, r, f"{sw}.polygons[{r}]", ("polygons", int(s.polygons.index[r])), "polygons")
                a.seg = (a.seg or []) + [poly.reshape(-1).tolist()]
                a.seg_area += float(areas[r])
                a.seg_bounds = _union(a.seg_bounds, bounds[r])
        if len(s.masks):
            self._masks()
        if len(s.points):
            self._points()
        return list(self.anns.values())

    def _masks(self) -> None:
        m, sw = self.s.masks, f"{self.sw}.masks"
        if m.type != "instance":
            raise FormatError(f"{sw}: a {m.type} map has no COCO annotation form; write instance masks")
        if m.size != self.s.size:
            raise FormatError(f"{sw}: the masks are {m.size[0]}x{m.size[1]}, the image {self.s.width}x{self.s.height}")
        rles, counts, boxes = m.to_rle(), m.counts(), m.boxes()
        for r in range(len(m)):
            a = self._seg(m, r, f"{sw}[{r}]", ("masks", r), "masks")
            a.seg, a.seg_area, a.seg_bounds = rles[r], float(counts[r]), [float(v) for v in boxes[r]]

    def _points(self) -> None:
        p, sw = self.s.points, f"{self.sw}.points"
        xy, flags = p.joints, p.joint_flags
        for r in range(len(p)):
            a = self._ann(p, r, f"{sw}[{r}]", ("points", r))
            if a.keypoints is not None:
                raise FormatError(f"{sw}[{r}].id: annotation id {a.id!r} is used twice (also {a.where})")
            names = self.joints.get(a.category)
            if names is not None and p.names is not None and names != p.names:
                raise FormatError(
                    f"{sw}[{r}]: joints {list(p.names)} are not category {a.category}'s keypoints {list(names)}"
                )
            on = flags[r] > 0
            kp = np.zeros((p.num_joints, 3))
            kp[on, :2] = xy[r][on] - 0.5  # back to COCO's pixel indices
            kp[:, 2] = flags[r]
            a.keypoints = [float(v) if i % 3 != 2 else int(v) for i, v in enumerate(kp.reshape(-1).tolist())]
            a.num_keypoints = int(np.count_nonzero(on))
            if on.any():
                lab = xy[r][on]
                a.kp_bounds = [*map(float, lab.min(axis=0)), *map(float, lab.max(axis=0))]

    def _seg(self, table: _Table, r: int, where: str, key: Any, kind: str) -> _Ann:
        a = self._ann(table, r, where, key)
        if a.seg_kind is not None and (a.seg_kind != kind or kind != "polygons"):
            raise FormatError(
                f"{where}.id: annotation id {a.id!r} is used twice (it already has a segmentation from {a.seg_where})"
            )
        if a.seg_kind is None:
            a.seg_kind, a.seg_where = kind, where
        return a

    def _ann(self, table: _Table, r: int, where: str, row_key: Any) -> _Ann:
        """The annotation of row ``r``: the one its id names in this sample, or a new one."""
        ann_id = table.fields["id"][r] if "id" in table.fields else None
        if isinstance(ann_id, np.integer):  # an id field given as an array: JSON holds int, not int64
            ann_id = int(ann_id)
        key = ("id", ann_id) if ann_id is not None else row_key
        cat = _category(where, table, r, self.by_name)
        a = self.anns.get(key)
        if a is not None:
            if cat != a.category:
                raise FormatError(
                    f"{where}.category_id: {cat}, but {a.where} of the same annotation (id {a.id!r}) has {a.category}"
                )
            return a
        if ann_id is not None:
            if ann_id in self.seen:
                raise FormatError(f"{where}.id: annotation id {ann_id!r} is used twice (also {self.seen[ann_id]})")
            self.seen[ann_id] = where
        iscrowd = int(table.fields.get("iscrowd", [0] * len(table))[r])
        extra = table.fields.get("extra", [{}] * len(table))[r] or {}
        a = _Ann(where, self.image_id, ann_id, cat, iscrowd, dict(extra))
        self.anns[key] = a
        return a


def _category(where: str, table: _Table, r: int, by_name: dict[Any, int]) -> int:
    if "category_id" in table.fields:
        cat = table.fields["category_id"][r]
        if not isinstance(cat, (int, np.integer)) or isinstance(cat, (bool, np.bool_)):
            raise FormatError(f"{where}.category_id: expected an integer, got {cat!r}")
        return int(cat)
    if "label" in table.fields:
        lab = table.fields["label"][r]
        if lab not in by_name:
            raise FormatError(f"{where}.label: {lab!r} is not among the categories {sorted(map(str, by_name))}")
        return by_name[lab]
    raise FormatError(f"{where}: needs a 'category_id' or 'label' field to name its COCO category")


__all__ = ["BBOX_FROM", "CocoData", "read_coco", "write_coco"]
