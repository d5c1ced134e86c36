"""geoaug tables <-> ``torchvision.tv_tensors``: Boxes as ``BoundingBoxes`` XYXY, Quads as XYXYXYXY, Points
as ``KeyPoints``, Masks as ``Mask``.

torchvision's boxes use the same pixel-edge frame (its hflip maps XYXY by ``x' = W - x``), so only the
layout changes. Its keypoints do not: they are pixel indices, an integer being a pixel's centre
(torchvision 0.29 flips ``KeyPoints`` by ``x' = W - 1 - x``), so they convert by half a pixel:
``x_tv = x - 0.5``. Masks are rasters in both. torch and torchvision are imported inside the functions:
``import geoaug.interop`` must stay light.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import GeometryError
from ..instances import Boxes, Quads
from ..kinds.masks import Masks
from ..kinds.points import Points
from .albumentations import HALF, flag_outside
from .sample import FormatError

_RECT_FORMATS = ("XYXY", "XYWH", "CXCYWH")
_ROTATED_FORMATS = ("XYXYXYXY", "XYWHR", "CXCYWHR")


def to_tv_boxes(table: Boxes | Quads, size: tuple[int, int], dtype: Any = None) -> Any:
    """Boxes -> BoundingBoxes(XYXY), Quads -> BoundingBoxes(XYXYXYXY); ``size = (width, height)``.

    Args:
        table: geoaug Boxes or Quads. size: the image's (width, height), stored as the canvas size.
        dtype: the tensor dtype (default ``torch.float32``).

    Returns:
        A ``torchvision.tv_tensors.BoundingBoxes`` (fields are not carried: keep them alongside).

    Raises:
        FormatError: ``table`` is neither Boxes nor Quads.
        ImportError: torch or torchvision is not installed (imported here, on first call).
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

    Args:
        bb: a ``torchvision.tv_tensors.BoundingBoxes``. **fields: one value per box each.

    Returns:
        ``(table, (width, height))``: Boxes or Quads in pixels with ``fields``, and the canvas size.

    Raises:
        FormatError: ``bb`` is not a BoundingBoxes, or its format is not one of the six above (torchvision
            0.29 has no other; a later one may add some).
        GeometryError: non-finite or reversed boxes, or a field without one value per box.
        ImportError: torchvision is not installed (imported here, on first call).
    """
    from torchvision import tv_tensors
    from torchvision.transforms.v2 import functional as F

    if not isinstance(bb, tv_tensors.BoundingBoxes):
        raise FormatError(f"from_tv_boxes: expected torchvision BoundingBoxes, got {type(bb).__name__}")
    fmt = bb.format.name
    if fmt not in _RECT_FORMATS + _ROTATED_FORMATS:
        known = list(_RECT_FORMATS + _ROTATED_FORMATS)
        raise FormatError(f"from_tv_boxes: BoundingBoxes format {fmt} is not one of {known}")
    if fmt in _RECT_FORMATS and fmt != "XYXY":
        bb, fmt = F.convert_bounding_box_format(bb, new_format="XYXY"), "XYXY"
    elif fmt in _ROTATED_FORMATS and fmt != "XYXYXYXY":
        bb, fmt = F.convert_bounding_box_format(bb, new_format="XYXYXYXY"), "XYXYXYXY"
    arr = bb.detach().cpu().double().numpy()  # (N, 4|5|8): BoundingBoxes makes one box (4,) into (1, 4)
    h, w = bb.canvas_size
    table = Boxes(arr, **fields) if fmt == "XYXY" else Quads(arr.reshape(-1, 4, 2), **fields)
    return table, (int(w), int(h))


def to_tv_keypoints(points: Points, size: tuple[int, int], dtype: Any = None) -> Any:
    """Points -> ``tv_tensors.KeyPoints`` of the same shape ((N, 2) or (N, K, 2)) on torchvision's
    pixel-index frame (``x - 0.5``); ``size = (width, height)`` is stored as the canvas size.

    Flags, names and fields are not carried (``KeyPoints`` has no visibility): keep them alongside.

    Raises:
        FormatError: ``points`` is not a Points table.
        ImportError: torch or torchvision is not installed (imported here, on first call).
    """
    import torch
    from torchvision import tv_tensors

    if not isinstance(points, Points):
        raise FormatError(f"to_tv_keypoints: expected geoaug Points, got {type(points).__name__}")
    w, h = size
    data = torch.as_tensor(points.xy - HALF, dtype=dtype or torch.float32)
    return tv_tensors.KeyPoints(data, canvas_size=(int(h), int(w)))


def from_tv_keypoints(
    kp: Any, *, names: Any = None, flip_pairs: Any = None, flags: Any = None, **fields: Any
) -> tuple[Points, tuple[int, int]]:
    """``tv_tensors.KeyPoints`` (N, 2) or (N, K, 2) -> ``(Points, (width, height))`` on geoaug's pixel-edge
    frame (``x + 0.5``). A labelled point beyond the canvas gets flag 0, as geoaug's ``point_outside: flag``
    (torchvision keeps such points as they are).

    Args:
        kp: a ``torchvision.tv_tensors.KeyPoints``. names, flip_pairs: as ``geoaug.Points`` (torchvision does
            not swap left and right joints when it mirrors; geoaug does). flags: the COCO flags of the points
            given to the transform (default 2). **fields: one value per row each.

    Raises:
        FormatError: ``kp`` is not a KeyPoints, or of another shape (e.g. skeletons [N, bones, 2, 2]);
            malformed flags, names, flip pairs or fields (the Points error).
        ImportError: torchvision is not installed (imported here, on first call).
    """
    from torchvision import tv_tensors

    if not isinstance(kp, tv_tensors.KeyPoints):
        raise FormatError(f"from_tv_keypoints: expected torchvision KeyPoints, got {type(kp).__name__}")
    arr = kp.detach().cpu().double().numpy()
    if arr.ndim not in (2, 3):
        raise FormatError(f"from_tv_keypoints: expected KeyPoints of shape (N, 2) or (N, K, 2), got {arr.shape}")
    h, w = kp.canvas_size
    try:
        pts = Points(arr + HALF, names=names, flip_pairs=flip_pairs, flags=flags, **fields)
    except GeometryError as e:
        raise FormatError(f"from_tv_keypoints: {e}") from None
    return flag_outside(pts, (int(w), int(h))), (int(w), int(h))


def to_tv_mask(masks: Masks) -> Any:
    """Masks -> ``tv_tensors.Mask``: instance masks as (N, H, W), a label or dense map (H, W) as (H, W) and
    (H, W, C) as (C, H, W) (torchvision's channels first). The same pixels, the same dtype (bool and uint8
    stay; torch has no uint32 or uint64). Fields are not carried: keep them alongside.

    Raises:
        FormatError: ``masks`` is not a Masks table.
        ImportError: torch or torchvision is not installed (imported here, on first call).
    """
    import torch
    from torchvision import tv_tensors

    if not isinstance(masks, Masks):
        raise FormatError(f"to_tv_mask: expected geoaug Masks, got {type(masks).__name__}")
    data = masks.stack if masks.type == "instance" else masks.data
    if masks.type != "instance" and data.ndim == 3:
        data = np.moveaxis(data, 2, 0)
    return tv_tensors.Mask(torch.from_numpy(np.ascontiguousarray(data)))


def from_tv_mask(
    mask: Any, *, type: str = "instance", fill: Any = 0, interpolation: str | None = None, **fields: Any
) -> Masks:
    """``tv_tensors.Mask`` -> Masks: ``type="instance"``: (N, H, W) bool or uint8, one row per mask (with
    ``fields``); ``"label"`` or ``"dense"``: an (H, W) map, or (C, H, W) channels first (back to (H, W, C)).

    Raises:
        FormatError: ``mask`` is not a Mask; masks geoaug does not take (shape, dtype, fill, fields).
        ImportError: torchvision is not installed (imported here, on first call).
    """
    from torchvision import tv_tensors

    if not isinstance(mask, tv_tensors.Mask):
        raise FormatError(f"from_tv_mask: expected torchvision Mask, got {mask.__class__.__name__}")
    data = mask.detach().cpu().numpy()
    if type != "instance" and data.ndim == 3:
        data = np.moveaxis(data, 0, 2)
    try:
        return Masks(data, type=type, fill=fill, interpolation=interpolation, **fields)
    except GeometryError as e:
        raise FormatError(f"from_tv_mask: {e}") from None
