"""geoaug Boxes <-> albumentations bbox arrays (``pascal_voc``, ``coco``, ``yolo``, ``albumentations``).

albumentations shares geoaug's pixel-edge frame (its hflip is ``x' = W - x`` on boxes), so the
conversion is layout and normalisation only; nothing here imports albumentations. Fields travel as
albumentations ``label_fields``: pass ``**boxes.fields`` into the transform call and back into
``from_albumentations``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..instances import Boxes
from .box_formats import from_xyxy, to_xyxy

ALBUMENTATIONS_FORMATS = ("pascal_voc", "coco", "yolo", "albumentations")


def _check(fmt: str) -> None:
    if fmt not in ALBUMENTATIONS_FORMATS:
        from .sample import FormatError

        raise FormatError(f"albumentations format must be one of {list(ALBUMENTATIONS_FORMATS)}, got {fmt!r}")


def to_albumentations(boxes: Boxes, size: tuple[int, int], fmt: str = "pascal_voc") -> np.ndarray:
    """(N, 4) float array in ``fmt`` for an image of ``size = (width, height)``.

    Raises:
        FormatError: ``fmt`` is not one of ``pascal_voc``, ``coco``, ``yolo``, ``albumentations``.
    """
    _check(fmt)
    return from_xyxy(boxes.xyxy, fmt, size, "to_albumentations")


def from_albumentations(bboxes: Any, size: tuple[int, int], fmt: str = "pascal_voc", **fields: Any) -> Boxes:
    """albumentations' output boxes (array or list of 4-sequences) -> Boxes with ``fields``.

    Raises:
        FormatError: unknown ``fmt``; GeometryError: malformed or non-finite boxes (naming the row).
    """
    _check(fmt)
    arr = np.asarray(bboxes, dtype=np.float64)
    arr = arr[:, :4] if arr.ndim == 2 else arr  # albumentations may append label columns to each box
    return Boxes(to_xyxy(arr, fmt, size, "from_albumentations"), **fields)
