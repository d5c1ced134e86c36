"""geoaug tables <-> ``torchvision.tv_tensors.BoundingBoxes``: Boxes as XYXY, Quads as XYXYXYXY.

torchvision's boxes use the same pixel-edge frame (its hflip maps XYXY by ``x' = W - x``), so only the
layout changes. torch and torchvision are imported inside the functions: ``import geoaug.interop``
must stay light.
"""

from __future__ import annotations

from typing import Any

from ..instances import Boxes, Quads
from .sample import FormatError

_RECT_FORMATS = ("XYXY", "XYWH", "CXCYWH")
_ROTATED_FORMATS = ("XYXYXYXY", "XYWHR", "CXCYWHR")


def to_tv_boxes(table: Boxes | Quads, size: tuple[int, int], dtype: Any = None) -> Any:
    """Boxes -> BoundingBoxes(XYXY), Quads -> BoundingBoxes(XYXYXYXY); ``size = (width, height)``.

    Raises:
        FormatError: ``table`` is neither Boxes nor Quads. Imports torch and torchvision (ImportError
            without them).
    """
    import torch
    from torchvision import tv_tensors

    w, h = size
    if isinstance(table, Boxes):
        data, fmt = table.xyxy, "XYXY"
    elif isinstance(table, Quads):
        data, fmt = table.points.reshape(-1, 8), "XYXYXYXY"
    else:
        raise FormatError(f"to_tv_boxes: expected geoaug Boxes or Quads, got {type(table).__name__}")
    return tv_tensors.BoundingBoxes(
        torch.as_tensor(data, dtype=dtype or torch.float32), format=fmt, canvas_size=(int(h), int(w))
    )


def from_tv_boxes(bb: Any, **fields: Any) -> tuple[Boxes | Quads, tuple[int, int]]:
    """BoundingBoxes -> Boxes (XYXY, XYWH, CXCYWH) or Quads (XYXYXYXY, XYWHR, CXCYWHR, points in
    torchvision's order). Returns ``(table, (width, height))`` from the boxes' canvas_size.

    Raises:
        FormatError: a BoundingBoxes format it does not read. Imports torchvision.
    """
    from torchvision.transforms.v2 import functional as F

    fmt = bb.format.name
    if fmt in _RECT_FORMATS and fmt != "XYXY":
        bb, fmt = F.convert_bounding_box_format(bb, new_format="XYXY"), "XYXY"
    elif fmt in _ROTATED_FORMATS and fmt != "XYXYXYXY":
        bb, fmt = F.convert_bounding_box_format(bb, new_format="XYXYXYXY"), "XYXYXYXY"
    arr = bb.detach().cpu().double().numpy()
    if arr.ndim != 2:
        raise FormatError(f"from_tv_boxes: expected a 2-D BoundingBoxes (N, 4|8), got shape {tuple(arr.shape)}")
    h, w = bb.canvas_size
    table = Boxes(arr, **fields) if fmt == "XYXY" else Quads(arr.reshape(-1, 4, 2), **fields)
    return table, (int(w), int(h))
