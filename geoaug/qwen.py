"""Qwen3-VL answers <-> pixel geometry.

Qwen3-VL answers with a JSON list of objects whose coordinates are integers on a 0-1000 grid of the image
it saw: ``bbox_2d`` [x1, y1, x2, y2], ``quad_2d`` [[x, y] x 4], ``line_2d`` [[x, y], ...], ``point_2d``
[x, y], plus ``label``. Pixel = v / 1000 * size; grid = round(v / size * 1000) clamped to [0, 1000], so
the two directions are inverse within half a grid step.

    ans = geoaug.qwen.parse_answer(text, width, height, record=res.replay)
    ans.boxes.xyxy, ans.boxes.fields["label"], ans.problems   # on the image the model saw
    ans.original.boxes.xyxy                                    # mapped back through the preprocessing
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np

from . import matrix as M
from .instances import Boxes, Lines, Quads, as_boxes, as_lines, as_quads

GRID = 1000
_SEPARATORS = re.compile(r"[\s,]*")
KEYS = {"bbox_2d": "boxes", "quad_2d": "quads", "line_2d": "lines", "point_2d": "points"}


@dataclass
class Problem:
    """Something in the answer that did not become geometry. ``index``: the item's position in the list
    (None for the answer as a whole)."""
    index: int | None
    reason: str

    def __str__(self):
        return self.reason if self.index is None else f"item {self.index}: {self.reason}"


class Points:
    """(N, 2) points with per-point fields, like the other tables (geoaug has no point table)."""

    kind = "points"

    def __init__(self, xy=None, **fields):
        self.xy = np.zeros((0, 2)) if xy is None or len(xy) == 0 else np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        self.fields = {k: list(v) for k, v in fields.items()}

    def __len__(self):
        return len(self.xy)

    def __repr__(self):
        return f"Points(n={len(self)}, fields={sorted(self.fields)})"


@dataclass
class Answer:
    """Parsed answer in pixels of the image the model saw (``size``); ``original``: the same geometry on
    the original image when a preprocessing record was given (boxes/quads/lines clipped as geoaug clips,
    points mapped and kept, ``original.points_inside`` says which lie in the image)."""
    boxes: Boxes
    quads: Quads
    lines: Lines
    points: Points
    size: tuple
    problems: list = field(default_factory=list)
    original: object = None


# ---- text -> items ---------------------------------------------------------------------------------
def _json_items(text: str, problems: list) -> list:
    """The objects of the answer's JSON list, tolerating code fences, text around the list, trailing
    commas and an answer cut off mid-list (the complete items are kept, the cut is reported)."""
    if not isinstance(text, str):
        raise TypeError(f"parse_answer: text must be a string, got {type(text).__name__}")
    fence = re.search(r"```(?:json)?\s*(.*?)(?:```|$)", text, re.S)
    body = fence.group(1) if fence else text
    start, first_obj = body.find("["), body.find("{")
    bare = first_obj >= 0 and (start < 0 or first_obj < start)  # objects without the enclosing list
    if start < 0 and not bare:
        problems.append(Problem(None, "no JSON list or object found in the answer"))
        return []
    dec = json.JSONDecoder()
    items, pos = [], (first_obj if bare else start + 1)
    while True:
        pos = _SEPARATORS.match(body, pos).end()
        if pos >= len(body) or (bare and body[pos] != "{"):
            if bare:
                return items
            problems.append(Problem(None, f"answer ends before the list is closed (after {len(items)} items)"))
            return items
        if body[pos] == "]":
            return items
        try:
            obj, pos = dec.raw_decode(body, pos)
        except json.JSONDecodeError as e:
            problems.append(Problem(len(items), f"not valid JSON at character {e.pos} ({e.msg}); "
                                                f"{len(items)} items before it kept"))
            return items
        items.append(obj)


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _grid_points(v, n, key):
    """-> (K, 2) float array on the grid, or a reason string."""
    if not isinstance(v, list):
        return f"{key} must be a list, got {type(v).__name__}"
    if key in ("bbox_2d", "point_2d"):
        if len(v) != n or not all(_number(c) for c in v):
            bad = [c for c in v if not _number(c)]
            return (f"{key} needs {n} numbers, got {len(v)}" if len(v) != n
                    else f"{key} has a non-numeric coordinate {bad[0]!r}")
        arr = np.asarray(v, dtype=np.float64).reshape(-1, 2)
    else:
        if not all(isinstance(p, list) and len(p) == 2 for p in v):
            return f"{key} must be a list of [x, y] pairs"
        flat = [c for p in v for c in p]
        if not all(_number(c) for c in flat):
            return f"{key} has a non-numeric coordinate {next(c for c in flat if not _number(c))!r}"
        if (n and len(v) != n) or (not n and len(v) < 2):
            return f"{key} needs {n or 'at least 2'} points, got {len(v)}"
        arr = np.asarray(v, dtype=np.float64)
    if arr.min() < 0 or arr.max() > GRID:
        return f"{key} has coordinates outside the 0-{GRID} grid"
    if key == "bbox_2d" and (arr[1, 0] < arr[0, 0] or arr[1, 1] < arr[0, 1]):
        return f"bbox_2d must be [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2, got {v}"
    return arr


# ---- public ----------------------------------------------------------------------------------------
def parse_answer(text: str, width: int, height: int, record: dict | None = None) -> Answer:
    """Qwen3-VL answer text -> geometry in pixels of the ``width x height`` image the model saw.

    Every item that could not be read is listed in ``.problems`` (index and reason); the rest is kept.
    Extra keys on items (e.g. ``text_content``) become fields next to ``label`` (None where absent).
    ``record``: the ``res.replay`` of the preprocessing that produced the model's image; with it,
    ``.original`` holds the geometry mapped back onto the original image (``geoaug.inverse``).
    """
    if record is not None and tuple(record["output_size"]) != (int(width), int(height)):
        raise ValueError(f"parse_answer: record's output size {tuple(record['output_size'])} is not the "
                         f"model's image size {(width, height)}")
    problems: list = []
    found = {k: ([], []) for k in KEYS.values()}  # kind -> (coords, item dicts)
    scale = np.array([width / GRID, height / GRID])
    for i, item in enumerate(_json_items(text, problems)):
        if not isinstance(item, dict):
            problems.append(Problem(i, f"expected an object, got {type(item).__name__}"))
            continue
        keys = [k for k in KEYS if k in item]
        if not keys:
            problems.append(Problem(i, f"no geometry key (one of {', '.join(KEYS)}); keys: {sorted(item)}"))
            continue
        for key in keys:
            arr = _grid_points(item[key], {"bbox_2d": 4, "quad_2d": 4, "point_2d": 2}.get(key), key)
            if isinstance(arr, str):
                problems.append(Problem(i, arr))
                continue
            found[KEYS[key]][0].append(arr * scale)
            found[KEYS[key]][1].append(item)
    tables = {kind: _table(kind, coords, items) for kind, (coords, items) in found.items()}
    ans = Answer(tables["boxes"], tables["quads"], tables["lines"], tables["points"], (int(width), int(height)),
                 problems)
    if record is not None:
        ans.original = to_original(ans, record)
    return ans


def _fields(items) -> dict:
    names = ["label"] + sorted({k for it in items for k in it if k not in KEYS and k != "label"})
    return {n: [it.get(n) for it in items] for n in names}


def _table(kind, coords, items):
    f = _fields(items)
    if kind == "boxes":
        return Boxes(np.reshape(coords, (-1, 4)), **f)
    if kind == "quads":
        return Quads(np.reshape(coords, (-1, 4, 2)), **f)
    if kind == "lines":
        return Lines(coords, **f)
    return Points(np.reshape(coords, (-1, 2)), **f)


def to_original(ans: Answer, record: dict):
    """Map a parsed answer back through a preprocessing record: a geoaug Result (image None) with
    ``points`` and ``points_inside`` added."""
    from .inverse import inverse
    res = inverse(record, boxes=ans.boxes, quads=ans.quads, lines=ans.lines)
    xy = M.apply_points(res.matrix, ans.points.xy) if len(ans.points) else np.zeros((0, 2))
    res.points = Points(xy, **ans.points.fields)
    w, h = res.size
    res.points_inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w) & (xy[:, 1] >= 0) & (xy[:, 1] <= h)
    return res


def grid_coords(v, size):
    """Pixels -> Qwen3-VL's 0-1000 grid of an image of ``size`` (one number, or (w, h) per point):
    ``round(v / size * 1000)`` clamped to [0, 1000]. The one place this rule lives."""
    return np.clip(np.round(np.asarray(v, dtype=np.float64) / size * GRID), 0, GRID).astype(int)


def to_grid(res_or_tables, width: int | None = None, height: int | None = None) -> list:
    """Pixel geometry -> Qwen3-VL answer objects (``json.dumps`` them for the answer text).

    Accepts a geoaug Result, a parsed Answer, or {"boxes": ..., "quads": ..., "lines": ..., "points": ...}
    (tables or arrays). width/height default to the object's ``.size``. Labels come from
    ``fields["label"]`` and other fields are copied onto each object.
    """
    src = res_or_tables
    get = src.get if isinstance(src, dict) else (lambda k, d=None: getattr(src, k, d))
    if width is None or height is None:
        size = get("size")
        if size is None:
            raise ValueError("to_grid: give width and height (the image size the geometry is in)")
        width, height = size
    out = []
    b, q, ln = as_boxes(get("boxes")), as_quads(get("quads")), as_lines(get("lines"))
    pts = get("points")
    if pts is not None and not isinstance(pts, Points):
        pts = Points(pts)

    def emit(table, key, coords):
        for r, c in enumerate(coords):
            obj = {n: v[r] for n, v in table.fields.items() if n == "label"}
            obj[key] = c
            obj.update({n: _plain(v[r]) for n, v in table.fields.items() if n != "label"})
            out.append(obj)

    sizes = np.array([width, height], dtype=np.float64)
    emit(b, "bbox_2d", [grid_coords(x.reshape(2, 2), sizes).ravel().tolist() for x in b.xyxy])
    emit(q, "quad_2d", [grid_coords(p, sizes).tolist() for p in q.points])
    emit(ln, "line_2d", [grid_coords(p, sizes).tolist() for p in ln.points])
    if pts is not None:
        emit(pts, "point_2d", [grid_coords(p, sizes).tolist() for p in pts.xy])
    return out


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v
