"""ms-swift grounding records <-> geoaug samples.

The ``objects`` shape follows ms-swift 4.6: ``swift/dataset/preprocessor/core.py``
(``RowPreprocessor._check_objects``: keys ``ref``, ``bbox``, ``bbox_type``, ``image_id``; each bbox is
``[x1, y1, x2, y2]`` or a point ``[x, y]``) and ``swift/template/base.py`` (``Template.normalize_bbox``:
``bbox_type`` ``"real"`` (default) is pixels divided by the image's width/height, i.e. geoaug's edge
frame; ``"norm1"`` is already divided). ``<ref-object>`` and ``<bbox>`` tags in the messages are filled
from ``ref`` and ``bbox`` in order (``Template._pre_tokenize``), so the writer checks their counts:
after augmentation drops a box, a stale tag would otherwise stay in the text.

One image per record (multi-image ``image_id`` is refused); points are refused (geoaug has no point
table); ms-swift swaps reversed corners silently, here they are an error.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

from ..instances import Boxes
from ._json_io import numbers
from .sample import FormatError, Sample, require_size

BBOX_TYPES = ("real", "norm1")


def read_swift(record: dict, size: tuple[int, int] | None = None, *, where: str = "record") -> Sample:
    """An ms-swift record -> Sample. ``size = (width, height)`` is needed only for ``bbox_type: norm1``
    (ms-swift records do not carry it); refs become the ``label`` field when there is one per box.

    Args:
        record: one ms-swift record (``messages``, ``images``, ``objects``, ...).
        size: the image's (width, height); needed for ``norm1`` boxes, stored on the Sample when given.
        where: the name used in error messages.

    Returns:
        A Sample with the boxes (``label`` field from ``ref``); the rest of the record is kept in ``meta``.

    Raises:
        FormatError: a record that is not a mapping; more than one image; malformed ``objects``, naming the
            field (not a mapping, unknown keys, unknown ``bbox_type``, ``bbox`` or ``ref`` not a list,
            ``image_id`` not a list of zeros, a point instead of a box, a box that is not 4 finite numbers, or
            reversed corners); ``norm1`` boxes without ``size``.
        GeometryError: a coordinate geoaug refuses (beyond +-2^53), naming the row.
    """
    if not isinstance(record, dict):
        raise FormatError(f"{where}: expected a record mapping, got {type(record).__name__}")
    images = record.get("images") or []
    images = [images] if isinstance(images, (str, dict)) else images
    if not isinstance(images, list) or len(images) > 1:
        raise FormatError(f"{where}.images: geoaug interop handles one image per record, got {images!r}")
    objects = record.get("objects") or {}
    ow = f"{where}.objects"
    if not isinstance(objects, dict):
        raise FormatError(f"{ow}: expected {{'ref': [...], 'bbox': [[x1, y1, x2, y2], ...]}}, got {objects!r}")
    unknown = set(objects) - {"ref", "bbox", "bbox_type", "image_id"}
    if unknown:
        raise FormatError(f"{ow}: unknown keys {sorted(unknown)} (ms-swift keeps only ref, bbox, bbox_type, image_id)")
    bbox_type = objects.get("bbox_type") or "real"
    if bbox_type not in BBOX_TYPES:
        raise FormatError(f"{ow}.bbox_type: expected one of {list(BBOX_TYPES)}, got {bbox_type!r}")
    bboxes = objects.get("bbox") or []
    if not isinstance(bboxes, list):
        raise FormatError(f"{ow}.bbox: expected a list of [x1, y1, x2, y2]")
    image_ids = objects.get("image_id") or []
    if not isinstance(image_ids, list) or any(i != 0 for i in image_ids):
        raise FormatError(f"{ow}.image_id: every box must belong to image 0 (one image per record), got {image_ids!r}")
    xyxy = []
    for b_i, b in enumerate(bboxes):
        bw = f"{ow}.bbox[{b_i}]"
        if isinstance(b, list) and len(b) == 2:
            raise FormatError(f"{bw}: a point [x, y]; geoaug interop reads boxes [x1, y1, x2, y2] only")
        x1, y1, x2, y2 = numbers(bw, b, 4)
        for lo, hi, a, c in ((x1, x2, "x1", "x2"), (y1, y2, "y1", "y2")):
            if hi < lo:
                raise FormatError(f"{bw}: {c} ({hi:g}) < {a} ({lo:g}); boxes are [x1, y1, x2, y2]")
        xyxy.append([x1, y1, x2, y2])
    arr = np.array(xyxy, dtype=np.float64).reshape(-1, 4)
    if bbox_type == "norm1":
        if size is None:
            raise FormatError(f"{ow}.bbox_type: 'norm1' boxes need size=(width, height) to become pixels")
        arr = arr * np.array([size[0], size[1], size[0], size[1]], dtype=np.float64)
    refs = objects.get("ref") or []
    if not isinstance(refs, list):
        raise FormatError(f"{ow}.ref: expected a list, got {refs!r}")
    fields = {"label": list(refs)} if len(refs) == len(arr) else {}
    rest = {k: copy.deepcopy(v) for k, v in record.items() if k not in ("images", "objects")}
    meta = {"record": rest, "bbox_type": bbox_type}
    if not fields and refs:
        meta["ref"] = list(refs)  # one ref for several boxes: kept whole, as ms-swift fills tags in order
    w, h = (None, None) if size is None else (int(size[0]), int(size[1]))
    return Sample(images[0] if images else None, w, h, Boxes(arr, **fields), meta=meta)


def write_swift(sample: Sample, *, messages: list[dict[str, Any]] | None = None, where: str = "sample") -> dict:
    """A Sample -> ms-swift record, in the ``bbox_type`` it was read with (``real`` by default).

    Args:
        sample: the Sample to write (boxes only), usually one ``read_swift`` returned, augmented.
        messages: new messages for the record; None keeps the ones it was read with.
        where: the name used in error messages.

    Returns:
        The record: the kept keys, ``images`` and ``objects`` (``ref``, ``bbox``, and ``bbox_type`` unless
        ``real``).

    Raises:
        FormatError: the sample holds quads or lines (ms-swift objects hold boxes only); ``norm1`` boxes
            of a sample without a known size; messages whose ``<bbox>`` or ``<ref-object>`` tags do not match
            the boxes or refs in number.
    """
    if len(sample.quads) or len(sample.lines):
        raise FormatError(
            f"{where}: ms-swift objects hold boxes only; got {len(sample.quads)} quads and "
            f"{len(sample.lines)} lines (convert them to boxes first)"
        )
    record: dict = copy.deepcopy(sample.meta.get("record", {}))
    if messages is not None:
        record["messages"] = messages
    bbox_type = sample.meta.get("bbox_type", "real")
    arr = sample.boxes.xyxy
    if bbox_type == "norm1":
        w, h = require_size(sample, where)
        arr = arr / np.array([w, h, w, h], dtype=np.float64)
    refs = list(sample.boxes.fields["label"]) if "label" in sample.boxes.fields else list(sample.meta.get("ref", []))
    _check_tags(record.get("messages") or [], "<bbox>", len(arr), where)
    _check_tags(record.get("messages") or [], "<ref-object>", len(refs), where)
    if sample.image is not None:
        record["images"] = [sample.image]
    objects = {"ref": refs, "bbox": arr.tolist()}
    if bbox_type != "real":
        objects["bbox_type"] = bbox_type
    record["objects"] = objects
    return record


def _check_tags(messages: list[dict[str, Any]], tag: str, n: int, where: str) -> None:
    found = sum(
        m.get("content", "").count(tag) for m in messages if isinstance(m, dict) and isinstance(m.get("content"), str)
    )
    if found and found != n:
        raise FormatError(
            f"{where}: the messages hold {found} {tag} tags for {n} values; ms-swift fills them in "
            "order, so the text would no longer match the objects (re-render the messages)"
        )
