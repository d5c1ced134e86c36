"""Qwen3-VL answers <-> pixel geometry.

Qwen3-VL answers with a JSON list of objects whose coordinates are integers on a 0-1000 grid of the image
it saw: ``bbox_2d`` [x1, y1, x2, y2], ``quad_2d`` [[x, y] x 4], ``line_2d`` [[x, y], ...], ``point_2d``
[x, y], plus ``label``. Pixel = v / 1000 * size; grid = round(v / size * 1000) clamped to [0, 1000], so
the two directions are inverse within half a grid step.

Every registered kind with an answer form (``Kind.answer_key``) is read and written here, none by name: its
point count (``answer_points``, else at least ``answer_min``) checks an item, and a fixed count of at most 2
points is written flat ([x1, y1, x2, y2], [x, y]), any other as [x, y] pairs. Keypoints answer one
``point_2d`` item per labelled joint, with ``joint`` and ``instance`` (``PointKind.answer_table``).

    ans = geoaug.qwen.parse_answer(text, width, height, record=res.replay)
    ans.boxes.xyxy, ans.boxes.fields["label"], ans.problems   # on the image the model saw
    ans.original.boxes.xyxy                                    # mapped back through the preprocessing
"""

from __future__ import annotations

import json
import math
import numbers
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import GeometryError
from .kinds import Kind, kinds
from .kinds.base import ByKind

if TYPE_CHECKING:
    from .pipeline import Result
from .params import short

GRID = 1000


def answer_kinds() -> list[Kind]:
    """The registered kinds that have a Qwen answer form, in their order (boxes, quads, lines, points, ...)."""
    return [k for k in kinds() if k.answer_key is not None]


def _flat(k: Kind) -> bool:
    """Whether an item holds its points as one flat list of numbers (``bbox_2d`` [x1, y1, x2, y2],
    ``point_2d`` [x, y]: a fixed count of at most 2 points) rather than a list of [x, y] pairs."""
    return k.answer_points is not None and k.answer_points <= 2


# Degenerate answers (a small model caught in a repetition loop) must cost time and memory linear in their
# length and never raise. Item problems kept on an Answer; the rest are counted in ``problems_omitted``.
MAX_PROBLEMS = 100
# Deepest nesting read (a Qwen answer nests 3 levels: list, object, point pairs). Deeper items are reported
# without being decoded: json's decoder recurses once per level.
MAX_DEPTH = 32
# Distinct extra item keys per kind that become fields: each is a column over every object of the kind, so
# an answer inventing a new key per item would otherwise grow as items x keys.
MAX_FIELDS = 32
# Integer literals longer than this are read as floats: int() is quadratic in the digits (and refuses
# beyond 4300), float() is linear and gives inf past 1e308, which the coordinate check reports.
_INT_DIGITS = 18
# Characters of an offending value quoted in a reason.
_QUOTE = 60

_SEPARATORS = re.compile(r"[\s,]*")
# What moves nesting depth: brackets outside strings. A string token (possibly unterminated) is skipped
# whole; the unrolled loop keeps the match linear.
_NESTING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.S)


@dataclass
class Problem:
    """Something in the answer that did not become geometry. ``index``: the item's position in the list
    (None for the answer as a whole)."""

    index: int | None
    reason: str

    def __str__(self) -> str:
        return self.reason if self.index is None else f"item {self.index}: {self.reason}"


@dataclass
class Answer(ByKind):
    """Parsed answer in pixels of the image the model saw (``size``): one table per kind with an answer form
    (``.boxes``, ``.quads``, ``.lines``, ``.points``, ... by kind name, in ``tables``); ``original``: the same
    geometry on the original image when a preprocessing record was given (a geoaug Result: every kind
    clipped as geoaug clips; points kept or dropped by the record's ``point_outside``,
    ``original.points_inside`` says which lie in the image)."""

    tables: dict  # kind name -> table
    size: tuple
    problems: list = field(default_factory=list)
    original: Any = None  # a geoaug Result (with points_inside) when a record was given
    problems_omitted: int = 0  # problems beyond MAX_PROBLEMS, counted and not kept


# ---- text -> items ---------------------------------------------------------------------------------
class _Problems:
    """Problems found while reading, at most MAX_PROBLEMS kept (the answer-level one, at most one, always
    among them), the others counted."""

    def __init__(self, cap: int = MAX_PROBLEMS):
        self.kept: list = []
        self.omitted = 0
        self.cap = cap

    def add(self, index: int | None, reason: str) -> None:
        if len(self.kept) < self.cap:
            self.kept.append(Problem(index, reason))
            return
        self.omitted += 1
        if index is None:  # what is wrong with the answer as a whole outranks one more bad item
            self.kept[-1] = Problem(index, reason)


def _int(s: str) -> int | float:
    return int(s) if len(s) <= _INT_DIGITS else float(s)


_DECODER = json.JSONDecoder(parse_int=_int)


def _nesting(body: str, pos: int) -> tuple[int | None, int]:
    """(end, depth) of the bracketed value opening at ``body[pos]``: end is None when it never closes.
    Brackets are counted, not matched (the decoder judges the rest); one pass, linear."""
    depth = deepest = 0
    for m in _NESTING.finditer(body, pos):
        c = body[m.start()]
        if c == '"':
            continue
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
            if depth <= 0:
                return m.end(), deepest
    return None, deepest


def _json_items(text: str, problems: _Problems) -> Iterator[tuple[int, Any]]:
    """Yield (position, object) for the objects of the answer's JSON list, tolerating code fences, text
    around the list, trailing commas and an answer cut off mid-list (the complete items are kept, the cut is
    reported). Each item is read once: time and memory linear in the text, on any text."""
    if not isinstance(text, str):
        raise TypeError(f"parse_answer: text must be a string, got {type(text).__name__}")
    fence = re.search(r"```(?:json)?\s*(.*?)(?:```|$)", text, re.S)
    body = fence.group(1) if fence else text
    start, first_obj = body.find("["), body.find("{")
    bare = first_obj >= 0 and (start < 0 or first_obj < start)  # objects without the enclosing list
    if start < 0 and not bare:
        problems.add(None, "no JSON list or object found in the answer")
        return
    n, pos = 0, (first_obj if bare else start + 1)
    while True:
        pos = _SEPARATORS.match(body, pos).end()  # type: ignore[union-attr]  # [\s,]* matches anywhere
        if pos >= len(body) or (bare and body[pos] != "{"):
            if not bare:
                problems.add(None, f"answer ends before the list is closed (after {n} items)")
            return
        if body[pos] == "]":
            return
        if body[pos] in "[{":
            end, depth = _nesting(body, pos)
            if depth > MAX_DEPTH:
                problems.add(
                    n,
                    f"nested {depth} levels deep (at most {MAX_DEPTH} are read)"
                    + ("" if end is not None else "; the answer ends inside it"),
                )
                if end is None:
                    return
                n, pos = n + 1, end
                continue
        try:
            obj, pos = _DECODER.raw_decode(body, pos)
        except (json.JSONDecodeError, RecursionError) as e:
            where = f" at character {e.pos} ({e.msg})" if isinstance(e, json.JSONDecodeError) else ""
            problems.add(n, f"not valid JSON{where}; {n} items before it kept")
            return
        yield n, obj
        n += 1


def _quote(v: Any) -> str:
    """A value for a reason, cut to a few dozen characters (a runaway answer must not be copied whole)."""
    return short(v, _QUOTE)


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _bad_coordinate(key: str, c: Any) -> str:
    if isinstance(c, float):  # nan, or inf: a literal past 1e308 (a runaway digit string) included
        return f"{key} has a coordinate that is not a finite number ({c!r})"
    return f"{key} has a non-numeric coordinate {_quote(c)}"


def _grid_points(v: Any, kind: Kind) -> np.ndarray | str:
    """-> (K, 2) float array on the grid, or a reason string. The point count is the kind's: exactly
    ``answer_points``, or at least ``answer_min``."""
    key, n = str(kind.answer_key), kind.answer_points
    if not isinstance(v, list):
        return f"{key} must be a list, got {type(v).__name__}"
    if _flat(kind):
        assert n is not None  # _flat: a fixed count
        if len(v) != 2 * n or not all(_number(c) for c in v):
            bad = [c for c in v if not _number(c)]
            return f"{key} needs {2 * n} numbers, got {len(v)}" if len(v) != 2 * n else _bad_coordinate(key, bad[0])
        arr = np.asarray(v, dtype=np.float64).reshape(-1, 2)
    else:
        if not all(isinstance(p, list) and len(p) == 2 for p in v):
            return f"{key} must be a list of [x, y] pairs"
        flat = [c for p in v for c in p]
        if not all(_number(c) for c in flat):
            return _bad_coordinate(key, next(c for c in flat if not _number(c)))
        if (n and len(v) != n) or (not n and len(v) < kind.answer_min):
            return f"{key} needs {n or f'at least {kind.answer_min}'} points, got {len(v)}"
        arr = np.asarray(v, dtype=np.float64)
    if arr.min() < 0 or arr.max() > GRID:
        return f"{key} has coordinates outside the 0-{GRID} grid"
    if key == "bbox_2d" and (arr[1, 0] < arr[0, 0] or arr[1, 1] < arr[0, 1]):
        return f"bbox_2d must be [x1, y1, x2, y2] with x1 <= x2 and y1 <= y2, got {_quote(v)}"
    return arr


# ---- public ----------------------------------------------------------------------------------------
def parse_answer(text: str, width: int, height: int, record: dict | None = None) -> Answer:
    """Qwen3-VL answer text -> geometry in pixels of the ``width x height`` image the model saw.

    Every item that could not be read is listed in ``.problems`` (index and reason); the rest is kept.
    Extra keys on items (e.g. ``text_content``) become fields next to ``label`` (None where absent).
    ``record``: the ``res.replay`` of the preprocessing that produced the model's image; with it,
    ``.original`` holds the geometry mapped back onto the original image (``geoaug.inverse``).
    """
    width, height = _pixels("width", width), _pixels("height", height)
    if record is not None:
        from .inverse import check_record

        out = check_record(record, "inverse").output_size
        if out != (width, height):
            raise GeometryError(
                f"parse_answer: record's output size {out} is not the model's image size {(width, height)}"
            )
    problems = _Problems()
    answer = {str(k.answer_key): k for k in answer_kinds()}
    found: dict[str, tuple[list, list]] = {k.name: ([], []) for k in answer.values()}  # kind -> (coords, items)
    names: dict[str, dict] = {k.name: {} for k in answer.values()}  # kind -> extra field names, in order seen
    scale = np.array([width / GRID, height / GRID])
    for i, item in _json_items(text, problems):
        if not isinstance(item, dict):
            problems.add(i, f"expected an object, got {type(item).__name__}")
            continue
        present = [k for k in answer if k in item]
        if not present:
            problems.add(i, f"no geometry key (one of {', '.join(answer)}); keys: {_quote(sorted(item))}")
            continue
        for key in present:
            kind = answer[key]
            arr = _grid_points(item[key], kind)
            if isinstance(arr, str):
                problems.add(i, arr)
                continue
            seen = names[kind.name]
            for k in item:
                if k not in seen and k not in answer and k != "label":
                    if len(seen) < MAX_FIELDS:
                        seen[k] = None
                    else:
                        problems.add(
                            i, f"key {_quote(k)} not kept: at most {MAX_FIELDS} distinct keys per kind become fields"
                        )
            found[kind.name][0].append(arr * scale)
            found[kind.name][1].append(item)
    tables = {k.name: _table(k, *found[k.name], names[k.name]) for k in answer.values()}
    ans = Answer(tables, (width, height), problems.kept, problems_omitted=problems.omitted)
    if record is not None:
        ans.original = to_original(ans, record)
    return ans


def _pixels(name: str, v: Any) -> int:
    """An image side in pixels: a positive whole number (an int, or a float with no fraction)."""
    ok = isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
    if ok:
        try:
            ok = math.isfinite(v) and v > 0 and float(v).is_integer()
        except (TypeError, ValueError, OverflowError):
            ok = False
    if not ok:
        raise GeometryError(
            f"parse_answer: {name} must be a positive whole number of pixels (the size of the "
            f"image the model saw), got {_quote(v)}"
        )
    return int(v)


def _fields(items: list[dict], extra: dict) -> dict:
    """``label`` and the extra keys (at most MAX_FIELDS, sorted) as columns, None where an item lacks one."""
    return {n: [it.get(n) for it in items] for n in ["label"] + sorted(extra)}


def _table(kind: Kind, coords: list, items: list[dict], extra: dict) -> Any:
    """The table of one kind. Fields are set after construction: an item key may be any string, ``index``
    or ``xy`` included, and must never collide with a table's own arguments."""
    t = kind.from_answer_rows(coords)
    t.fields = _fields(items, extra)
    return t


def to_original(ans: Answer, record: dict) -> Result:
    """Map a parsed answer back through a preprocessing record (``geoaug.inverse``, with the forward pass's
    kind options): a geoaug Result (image None) with ``points_inside`` added, True for each point of
    ``points`` that lies in the original image (labelled: flag > 0)."""
    from .inverse import inverse

    res: Any = inverse(record, **ans.tables)  # a Result; gains points_inside below
    res.points_inside = res.points.flags > 0
    out: Result = res
    return out


def grid_coords(v: Any, size: Any) -> np.ndarray:
    """Pixels -> Qwen3-VL's 0-1000 grid of an image of ``size`` (one number, or (w, h) per point):
    ``round(v / size * 1000)`` clamped to [0, 1000]. The one place this rule lives."""
    out: np.ndarray = np.clip(np.round(np.asarray(v, dtype=np.float64) / size * GRID), 0, GRID).astype(int)
    return out


def to_grid(res_or_tables: Any, width: int | None = None, height: int | None = None) -> list:
    """Pixel geometry -> Qwen3-VL answer objects (``json.dumps`` them for the answer text).

    Accepts a geoaug Result, a parsed Answer, or {"boxes": ..., "quads": ..., "lines": ..., "points": ...}
    (tables or arrays). width/height default to the object's ``.size``. Labels come from
    ``fields["label"]`` and other fields are copied onto each object.

    Raises:
        GeometryError: width/height missing (and not known from the object) or not positive whole numbers,
            or geometry that is not finite.
    """
    src = res_or_tables
    get = src.get if isinstance(src, dict) else (lambda k, d=None: getattr(src, k, d))
    if width is None or height is None:
        size = get("size")
        if size is None:
            raise ValueError("to_grid: give width and height (the image size the geometry is in)")
        width, height = size
    out = []

    def emit(table: Any, key: str, coords: list) -> None:
        for r, c in enumerate(coords):
            obj = {n: v[r] for n, v in table.fields.items() if n == "label"}
            obj[key] = c
            obj.update({n: _plain(v[r]) for n, v in table.fields.items() if n != "label"})
            out.append(obj)

    sizes = np.array([width, height], dtype=np.float64)
    for k in answer_kinds():
        t = k.answer_table(k.intake(get(k.name), (int(width), int(height))))
        rows = [grid_coords(p, sizes) for p in k.answer_rows(t)]
        emit(t, str(k.answer_key), [p.ravel().tolist() if _flat(k) else p.tolist() for p in rows])
    return out


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v


__all__ = ["Answer", "Problem", "answer_kinds", "grid_coords", "parse_answer", "to_grid", "to_original", "GRID"]
