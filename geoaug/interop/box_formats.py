"""Box array layouts of other libraries, converted to and from geoaug's pixel-edge ``x1, y1, x2, y2``.

All of them share geoaug's edge convention (a box over pixel columns 0..9 spans x 0..10); they differ
only in layout and in whether they are divided by the image size.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .sample import FormatError

# name -> (layout, normalised by image size)
FORMATS = {
    "xyxy": ("xyxy", False),
    "pascal_voc": ("xyxy", False),
    "xywh": ("xywh", False),
    "coco": ("xywh", False),
    "cxcywh_norm": ("cxcywh", True),
    "yolo": ("cxcywh", True),
    "xyxy_norm": ("xyxy", True),
    "albumentations": ("xyxy", True),
}


def _lookup(fmt: str) -> tuple[str, bool]:
    if fmt not in FORMATS:
        raise FormatError(f"box format {fmt!r} is not one of {sorted(FORMATS)}")
    return FORMATS[fmt]


def _scale(size: tuple[int, int] | None, norm: bool, where: str) -> np.ndarray:
    if not norm:
        return np.ones(4)
    if size is None:
        raise FormatError(f"{where}: a normalised box format needs the image size (width, height)")
    w, h = size
    return np.array([w, h, w, h], dtype=np.float64)


def _numbers(arr: Any, fmt: str, where: str) -> np.ndarray:
    try:
        out: np.ndarray = np.asarray(arr, dtype=np.float64)
    except (TypeError, ValueError):
        raise FormatError(f"{where}: expected an (N, 4) array of numbers in {fmt} layout") from None
    return out


def to_xyxy(arr: Any, fmt: str, size: tuple[int, int] | None = None, where: str = "boxes") -> np.ndarray:
    """(N, 4) boxes in ``fmt`` -> (N, 4) pixel-edge xyxy.

    Args:
        arr: (N, 4) array-like in ``fmt``'s layout. fmt: a key of ``FORMATS``. size: the image's (width,
            height), needed by the normalised formats. where: the name used in error messages.

    Returns:
        An (N, 4) float64 array of x1, y1, x2, y2 in pixels ((0, 4) for empty input). Values are not checked
        here (NaN, x2 < x1): ``Boxes`` does that.

    Raises:
        FormatError: ``fmt`` unknown, ``arr`` not an (N, 4) array of numbers, or a normalised ``fmt`` without
            ``size``.
    """
    layout, norm = _lookup(fmt)
    a: np.ndarray = _numbers(arr, fmt, where)
    if a.size == 0:
        return np.zeros((0, 4))
    if a.ndim != 2 or a.shape[1] != 4:
        raise FormatError(f"{where}: expected shape (N, 4) in {fmt} layout, got {a.shape}")
    a = a * _scale(size, norm, where)
    if layout == "xywh":
        return np.concatenate([a[:, :2], a[:, :2] + a[:, 2:]], axis=1)
    if layout == "cxcywh":
        return np.concatenate([a[:, :2] - a[:, 2:] / 2, a[:, :2] + a[:, 2:] / 2], axis=1)
    return a


def from_xyxy(xyxy: Any, fmt: str, size: tuple[int, int] | None = None, where: str = "boxes") -> np.ndarray:
    """(N, 4) pixel-edge xyxy -> (N, 4) boxes in ``fmt``.

    Args:
        xyxy: (N, 4) array-like of x1, y1, x2, y2 in pixels. fmt: a key of ``FORMATS``. size: the image's
            (width, height), needed by the normalised formats. where: the name used in error messages.

    Returns:
        An (N, 4) float64 array in ``fmt``.

    Raises:
        FormatError: ``fmt`` unknown, ``xyxy`` not numbers in groups of 4, or a normalised ``fmt`` without
            ``size``.
    """
    layout, norm = _lookup(fmt)
    b = _numbers(xyxy, fmt, where)
    if b.size % 4:
        raise FormatError(f"{where}: expected (N, 4) boxes, got {b.size} numbers")
    b = b.reshape(-1, 4)
    if layout == "xywh":
        b = np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)
    elif layout == "cxcywh":
        b = np.concatenate([(b[:, :2] + b[:, 2:]) / 2, b[:, 2:] - b[:, :2]], axis=1)
    out: np.ndarray = b / _scale(size, norm, where)
    return out


def enclosing_xyxy(points: np.ndarray) -> np.ndarray:
    """(M, K, 2) point sets -> (M, 4) enclosing boxes.

    Args:
        points: (M, K, 2) array-like of M point sets (e.g. quads).

    Returns:
        The (M, 4) enclosing boxes, x1, y1, x2, y2.

    Raises:
        ValueError: numpy's, when ``points`` does not reshape to (M, -1, 2) (nothing of its own).
    """
    if len(points) == 0:
        return np.zeros((0, 4))
    p = np.asarray(points, dtype=np.float64).reshape(len(points), -1, 2)
    return np.concatenate([p.min(axis=1), p.max(axis=1)], axis=1)
