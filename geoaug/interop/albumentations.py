"""geoaug tables <-> albumentations arrays: boxes (``pascal_voc``, ``coco``, ``yolo``, ``albumentations``),
keypoints (``xy``) and masks.

albumentations' boxes share geoaug's pixel-edge frame (its hflip is ``x' = W - x`` on boxes), so their
conversion is layout and normalisation only. Its keypoints do not: they are pixel indices, an integer being
a pixel's centre (albumentations 2.0 flips them by ``x' = W - 1 - x`` and rotates by 90 degrees by
``y' = W - 1 - x``), so keypoints convert by half a pixel: ``x_alb = x - 0.5``. (Its ``Resize`` scales
keypoints by ``x' = s * x``, which is exact on the pixel-edge frame only: albumentations' own keypoints then
move by ``(s - 1) / 2`` of a pixel against its image.) Masks are rasters in both: no conversion at all.
Nothing here imports albumentations. Fields travel as albumentations ``label_fields``: pass
``**boxes.fields`` into the transform call and back into ``from_albumentations``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..clip import outside_points
from ..errors import GeometryError
from ..instances import Boxes
from ..kinds.masks import Masks
from ..kinds.points import Points
from .box_formats import from_xyxy, to_xyxy
from .sample import FormatError

HALF = 0.5  # albumentations' keypoint x is geoaug's x - HALF: its integer coordinates are pixel centres

ALBUMENTATIONS_FORMATS = ("pascal_voc", "coco", "yolo", "albumentations")


def _check(fmt: str) -> None:
    if fmt not in ALBUMENTATIONS_FORMATS:
        raise FormatError(f"albumentations format must be one of {list(ALBUMENTATIONS_FORMATS)}, got {fmt!r}")


def to_albumentations(boxes: Boxes, size: tuple[int, int], fmt: str = "pascal_voc") -> np.ndarray:
    """(N, 4) float array in ``fmt`` for an image of ``size = (width, height)``.

    Args:
        boxes: geoaug Boxes. size: the image's (width, height). fmt: ``pascal_voc``, ``coco``, ``yolo`` or
            ``albumentations``.

    Returns:
        An (N, 4) float64 array in ``fmt`` (fields are not included: pass ``**boxes.fields`` alongside).

    Raises:
        FormatError: ``fmt`` is not one of ``pascal_voc``, ``coco``, ``yolo``, ``albumentations``.
    """
    _check(fmt)
    return from_xyxy(boxes.xyxy, fmt, size, "to_albumentations")


def from_albumentations(bboxes: Any, size: tuple[int, int], fmt: str = "pascal_voc", **fields: Any) -> Boxes:
    """albumentations' output boxes (array or list of 4-sequences) -> Boxes with ``fields``.

    Args:
        bboxes: (N, 4) boxes in ``fmt``, or (N, 4 + k) with label columns appended (they are dropped).
        size: the image's (width, height). fmt: as ``to_albumentations``.
        **fields: one value per box each (e.g. the ``label_fields`` the transform returned).

    Returns:
        Boxes in pixels with ``fields``.

    Raises:
        FormatError: unknown ``fmt``; ``bboxes`` not an (N, 4) array of numbers (ragged, non-numeric, fewer
            than 4 columns).
        GeometryError: non-finite or reversed boxes, or a field without one value per box (naming the row
            or field).
    """
    _check(fmt)
    try:
        arr = np.asarray(bboxes, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError("from_albumentations: expected an (N, 4) array of numbers (labels may follow)") from None
    arr = arr[:, :4] if arr.ndim == 2 else arr  # albumentations may append label columns to each box
    return Boxes(to_xyxy(arr, fmt, size, "from_albumentations"), **fields)


def to_albumentations_keypoints(points: Points) -> np.ndarray:
    """Points -> an (N * K, 2) float64 array in albumentations' ``xy`` keypoint format (joints of row 0,
    then row 1, ...), on its pixel-index frame (``x - 0.5``, ``y - 0.5``).

    Pass it with ``A.KeypointParams(format="xy", remove_invisible=False)``: albumentations would otherwise drop
    keypoints it sees outside the image and the rows would no longer be K joints each (geoaug's own
    ``point_outside: flag`` keeps them, flagged). Flags and fields are not included: keep them alongside.
    """
    if not isinstance(points, Points):
        raise FormatError(f"to_albumentations_keypoints: expected geoaug Points, got {type(points).__name__}")
    out: np.ndarray = points.xy.reshape(-1, 2) - HALF
    return out


def from_albumentations_keypoints(
    keypoints: Any,
    size: tuple[int, int] | None = None,
    *,
    num_joints: int | None = None,
    names: Any = None,
    flip_pairs: Any = None,
    flags: Any = None,
    **fields: Any,
) -> Points:
    """albumentations' output keypoints (``xy`` format, M x 2 or more columns) -> Points.

    Args:
        keypoints: (M, 2+) keypoints in albumentations' ``xy`` format (columns after the second are dropped).
        size: the output image's (width, height); when given, a labelled point outside it gets flag 0 (as
            geoaug's ``point_outside: flag``: the row and its coordinates stay).
        num_joints: K, to group the points as (M / K, K, 2) keypoints (default: ``len(names)`` when names are
            given, else free points (M, 2)).
        names: joint names, as ``geoaug.Points`` (of the points given to the transform).
        flip_pairs: as ``geoaug.Points`` (note that albumentations does not swap left and right joints when it
            mirrors; geoaug does).
        flags: the COCO flags of the points given to the transform ((M,) or (M / K, K)); default 2.
        **fields: one value per row each.

    Returns:
        Points on geoaug's pixel-edge frame (``x + 0.5``).

    Raises:
        FormatError: ``keypoints`` not an (M, 2+) array of numbers, or M not a multiple of K; malformed points,
            flags, names, flip pairs or fields (the Points error, naming the row, point or field).
    """
    try:
        arr = np.asarray(keypoints, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError("from_albumentations_keypoints: expected an (M, 2) array of numbers") from None
    if arr.size == 0:
        arr = arr.reshape(0, 2) if arr.ndim < 2 or arr.shape[-1] < 2 else arr
    if arr.ndim != 2 or arr.shape[1] < 2:
        raise FormatError(f"from_albumentations_keypoints: expected an (M, 2) array of numbers, got shape {arr.shape}")
    xy = arr[:, :2] + HALF
    k = num_joints if num_joints is not None else (len(names) if names is not None else None)
    if k is not None:
        if k < 1 or len(xy) % k:
            raise FormatError(f"from_albumentations_keypoints: {len(xy)} points are not rows of {k} joints")
        xy = xy.reshape(-1, k, 2)
    try:
        pts = Points(xy, names=names, flip_pairs=flip_pairs, flags=flags, **fields)
    except GeometryError as e:
        raise FormatError(f"from_albumentations_keypoints: {e}") from None
    return flag_outside(pts, size)


def flag_outside(points: Points, size: tuple[int, int] | None) -> Points:
    """``points`` with flag 0 on each labelled point beyond [0, W] x [0, H] (by more than rounding)."""
    if size is None or not len(points):
        return points
    out = outside_points(points.xy.reshape(-1, 2), float(size[0]), float(size[1])).reshape(points.flags.shape)
    if out.any():
        points.flags = np.where(out, np.int8(0), points.flags).astype(np.int8)
    return points


def to_albumentations_masks(masks: Masks) -> np.ndarray:
    """The array albumentations takes for ``masks``: instance masks as (N, H, W) (pass ``masks=``), a label
    or dense map as itself, (H, W) or (H, W, C) (pass ``mask=``). The same pixels: masks are rasters in both
    libraries. Fields are not included: keep them alongside (albumentations keeps every mask, in order)."""
    if not isinstance(masks, Masks):
        raise FormatError(f"to_albumentations_masks: expected geoaug Masks, got {type(masks).__name__}")
    return masks.stack if masks.type == "instance" else masks.data


def from_albumentations_masks(
    data: Any, *, type: str = "instance", fill: Any = 0, interpolation: str | None = None, **fields: Any
) -> Masks:
    """albumentations' output ``masks`` (a list of (H, W) arrays or an (N, H, W) array) or ``mask`` -> Masks.

    Args:
        data: instance masks as a list of (H, W) arrays or an (N, H, W) array (``type="instance"``), or one
            label or dense map (H, W) or (H, W, C).
        type: as ``geoaug.Masks`` ("instance", "label" or "dense").
        fill: as ``geoaug.Masks``.
        interpolation: as ``geoaug.Masks``.
        **fields: one value per instance mask each (e.g. the ones given beside the transform).

    Raises:
        FormatError: masks geoaug does not take (shape, dtype, fill, fields: the Masks error).
    """
    try:
        if type == "instance" and isinstance(data, (list, tuple)):
            data = np.stack([np.asarray(m) for m in data]) if len(data) else None
        return Masks(data, type=type, fill=fill, interpolation=interpolation, **fields)
    except (GeometryError, ValueError) as e:
        raise FormatError(f"from_albumentations_masks: {e}") from None
