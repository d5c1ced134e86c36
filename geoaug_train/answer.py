"""Qwen3-VL's answer format: JSON objects with integer coordinates on a 0-1000 grid of the image it sees."""
from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Sequence

from geoaug.qwen import GRID, grid_coords

def to_grid(v: float, size: float) -> int:
    """`round(v / size * 1000)` clamped to [0, 1000]; size is the augmented image's width or height."""
    return int(grid_coords(float(v), float(size)))


def point_to_grid(p: Sequence[float], width: int, height: int) -> List[int]:
    return [to_grid(p[0], width), to_grid(p[1], height)]


def grid_object(label: str, kind: str, geom, width: int, height: int) -> Dict[str, Any]:
    """kind: 'bbox' ([x1, y1, x2, y2]), 'quad' (4 points) or 'line' (K points), in pixels of the image."""
    if kind == 'bbox':
        x1, y1, x2, y2 = geom
        return {'label': label, 'bbox_2d': [to_grid(x1, width), to_grid(y1, height),
                                            to_grid(x2, width), to_grid(y2, height)]}
    if kind == 'quad':
        return {'label': label, 'quad_2d': [point_to_grid(p, width, height) for p in geom]}
    if kind == 'line':
        return {'label': label, 'line_2d': [point_to_grid(p, width, height) for p in geom]}
    raise ValueError(f'unknown geometry kind {kind!r}')


def render_answer(objects: Iterable[Dict[str, Any]]) -> str:
    return json.dumps(list(objects), ensure_ascii=False)
