"""Qwen3-VL's answer format: JSON objects with integer coordinates on a 0-1000 grid of the image it sees."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from geoaug.qwen import grid_coords

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

KEY_OF = {'bbox': 'bbox_2d', 'quad': 'quad_2d', 'line': 'line_2d', 'point': 'point_2d', 'polygon': 'polygon_2d'}
FLAT = ('bbox', 'point')  # written as one flat list of numbers ([x1, y1, x2, y2], [x, y]), the others as [x, y] pairs
RAGGED = ('line', 'polygon')  # any number of points per object


def to_grid(v: float, size: float) -> int:
    """`round(v / size * 1000)` clamped to [0, 1000]; size is the augmented image's width or height."""
    return int(grid_coords(float(v), float(size)))


def grid_object(label: str, kind: str, geom: ArrayLike, width: int, height: int) -> dict[str, Any]:
    """kind: 'bbox' ([x1, y1, x2, y2]), 'quad' (4 points), 'line' (K points), 'point' ([x, y]) or 'polygon'
    (K >= 3 points), in pixels of the image."""
    if kind not in KEY_OF:
        raise ValueError(f'unknown geometry kind {kind!r}')
    pts = grid_coords(np.asarray(geom, np.float64).reshape(-1, 2), np.array([width, height], np.float64))
    return {'label': label, KEY_OF[kind]: pts.ravel().tolist() if kind in FLAT else pts.tolist()}


def grid_table(kind: str, geoms: Sequence[np.ndarray], width: int, height: int) -> list[Any]:
    """The grid coordinates of every row of one kind at once (one numpy pass instead of one per number)."""
    size = np.array([width, height], np.float64)
    if kind in RAGGED:  # one pass over the concatenated points, split back per row
        flat = grid_coords(np.concatenate(geoms).reshape(-1, 2), size) if len(geoms) else np.zeros((0, 2), int)
        cuts = np.cumsum([len(g) for g in geoms])[:-1]
        return [part.tolist() for part in np.split(flat, cuts)]
    pts = grid_coords(np.asarray(geoms, np.float64).reshape(len(geoms), -1, 2), size)
    return [p.ravel().tolist() for p in pts] if kind in FLAT else pts.tolist()


def grid_objects(objects: Iterable[dict[str, Any]], width: int, height: int) -> list[dict[str, Any]]:
    """Checked record objects (``{'label', <kind>: pixels}``) as answer objects, in their order."""
    out = []
    for o in objects:
        kind = next(k for k in KEY_OF if k in o)
        out.append(grid_object(o['label'], kind, o[kind], width, height))
    return out


def render_answer(objects: Iterable[dict[str, Any]]) -> str:
    return json.dumps(list(objects), ensure_ascii=False)
