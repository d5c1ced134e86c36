"""The instance tables: boxes, quads and lines, each row carrying its fields, index and visibility.

One table per kind, never parallel lists: dropping or splitting a row moves every field with it.
"""

from __future__ import annotations

from collections.abc import ItemsView, Iterable, KeysView, Mapping, Set, ValuesView
from decimal import Decimal
from numbers import Real
from operator import itemgetter
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from .errors import GeometryError

# Largest coordinate taken in: beyond 2^53 a float64 no longer holds every whole pixel, so such a number is no
# pixel coordinate (an unscaled or uninitialised value), and keeping inputs far inside the float range is
# what lets clipping square coordinates (areas, cross products) and hand them to GEOS without overflow.
COORD_LIMIT = 2.0**53


def take_rows(arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``arr[rows]`` along the first axis. np.take copies whole rows at once; fancy indexing an (N, 4) array
    walks it element by element, ~10x slower for 10^4 boxes."""
    return np.take(arr, rows, axis=0)


def complement(n: int, rows: np.ndarray) -> np.ndarray:
    """All of 0..n-1 but ``rows``, in order."""
    keep = np.ones(n, dtype=bool)
    keep[rows] = False
    return np.flatnonzero(keep)


def take_field(values: Any, rows: np.ndarray, gaps: np.ndarray | None = None) -> Any:
    """The rows of one field, keeping its kind (array or list). ``gaps``: the rows left out, when ``rows``
    is all but those (a table dropping a few of its objects)."""
    if isinstance(values, np.ndarray):
        return take_rows(values, rows)
    # Rows usually come as a few long runs (a table that dropped a handful of its objects): copy the runs
    # as list slices, ~10x faster than gathering 10^4 items one by one.
    if gaps is not None:  # the runs lie between the gaps
        bounds = gaps.tolist()
        return _copy_runs(values, [0] + [g + 1 for g in bounds], bounds + [len(values)])
    if len(rows) < 2:
        return [values[int(r)] for r in rows]
    breaks = np.flatnonzero(np.diff(rows) != 1)
    if len(breaks) < len(rows) // 16:
        starts = [int(rows[0])] + (rows[breaks + 1]).tolist()
        ends = (rows[breaks] + 1).tolist() + [int(rows[-1]) + 1]
        return _copy_runs(values, starts, ends)
    return list(itemgetter(*rows.tolist())(values))


def _copy_runs(values: list, starts: list, ends: list) -> list:
    out: list = []
    for a, b in zip(starts, ends):
        out += values[a:b]
    return out


def _bad_coordinate(v: float) -> str:
    """Why a coordinate is refused: NaN, infinite, or beyond +-2^53 (where a float stops holding every pixel)."""
    if np.isnan(v):
        return "is NaN"
    if np.isinf(v):
        return "is infinite"
    return f"({v:g}) is beyond +-2^53: not a pixel coordinate"


def _check_finite(kind: str, arr: np.ndarray, axis_names: tuple[str, ...]) -> None:
    """Every coordinate a number within +-COORD_LIMIT; else an error naming the row, point and field."""
    # min and max propagate NaN: two reductions without a temporary, no slower than isfinite().all()
    if arr.size == 0 or (arr.min() >= -COORD_LIMIT and arr.max() <= COORD_LIMIT):
        return
    pos = np.argwhere(~(np.abs(arr) <= COORD_LIMIT))[0]
    row = int(pos[0])
    what = _bad_coordinate(arr[tuple(pos)])
    field = axis_names[int(pos[-1])] if len(axis_names) > 1 else axis_names
    where = f"{kind}[{row}]" + (f".point[{int(pos[1])}]" if arr.ndim == 3 else "")
    raise GeometryError(f"{where}.{field} {what}")


# ---- intake: anything but numbers in the expected nesting is named by row, point and field -------------
_UNORDERED = (Set, Mapping, KeysView, ValuesView, ItemsView)


def _type_name(v: object) -> str:
    if v is None:
        return "None"
    name = type(v).__name__
    return f"{'an' if name[0].lower() in 'aeiou' else 'a'} {name}"


def _refuse_container(what: str, v: Any, expected: str, *, iterator_ok: bool = False) -> None:
    """``v`` must be an ordered sequence (list, tuple, array, ...): strings, sets, mappings, dict views,
    scalars and (unless ``iterator_ok``) generators are refused with a message naming ``what``."""
    if isinstance(v, np.ndarray):
        if v.ndim == 0:
            raise GeometryError(f"{what} is a 0-d array ({v!r:.40}), expected {expected}")
        return
    if isinstance(v, (str, bytes)):
        raise GeometryError(f"{what} is a string ({v!r:.40}), expected {expected}")
    if isinstance(v, _UNORDERED):
        raise GeometryError(f"{what} is {_type_name(v)}, not a sequence in the objects' order; expected {expected}")
    if hasattr(v, "__len__") and hasattr(v, "__getitem__") or iterator_ok and hasattr(v, "__iter__"):
        return
    raise GeometryError(f"{what} is {_type_name(v)}, expected {expected}")


def _numbers(what: str, x: Any, tail: tuple, names: tuple, *, table: bool = True) -> np.ndarray:
    """``x`` as a float64 array. Numeric arrays pass straight through; anything numpy cannot read as
    numbers in one go (ragged rows, strings, None, objects) is walked to name the first bad row, point and
    field. ``tail``: the shape of one row ((4,), (4, 2), or (None, 2) for a line's points: any count of at
    least 2); ``names``: the last axis' field names; ``table``: ``x`` is a table of such rows, else one row.
    Numbers in a regular but wrong shape are returned for the caller's shape check to name."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "fiub":
        return np.asarray(x, dtype=np.float64)
    _refuse_container(what, x, _expected(tail, names) if not table else "a list or an array of rows")
    try:
        arr = np.asarray(x)
    except (ValueError, TypeError):  # ragged nesting
        arr = None
    if arr is not None and arr.dtype.kind in "fiub":
        return arr.astype(np.float64, copy=False)
    if not table:
        _walk(what, x, tail, names)
    for r, row in enumerate(x if table else ()):
        _walk(f"{what}[{r}]", row, tail, names)
    try:  # every item is a real number (Decimal, Fraction, numpy scalars in an object array, ...)
        return np.asarray(x, dtype=np.float64)
    except (ValueError, TypeError) as e:
        raise GeometryError(f"{what} could not be read as numbers ({type(e).__name__})") from None


def _expected(tail: tuple, names: tuple) -> str:
    if len(tail) == 2:
        return f"{tail[0]} (x, y) points" if tail[0] else "(K, 2) points"
    return f"{tail[0]} numbers ({', '.join(names)})"


def _walk(where: str, v: Any, tail: tuple, names: tuple) -> None:
    """Raise a GeometryError naming the first item of ``v`` that is not a real number in shape ``tail``."""
    if not tail:
        if isinstance(v, np.ndarray) and v.ndim == 0:
            v = v.item()
        if isinstance(v, (str, bytes)):
            raise GeometryError(f"{where} is a string ({v!r:.40}), expected a number")
        if not isinstance(v, (Real, Decimal, np.bool_)):
            raise GeometryError(f"{where} is {_type_name(v)}, expected a number")
        return
    want = tail[0]
    expected = _expected(tail, names)
    _refuse_container(where, v, expected)
    n = len(v)
    if want is None and n < 2:
        raise GeometryError(f"{where} needs at least 2 points, got {n}")
    if want is not None and n != want:
        unit = ("point" if len(tail) == 2 else "value") + ("" if n == 1 else "s")
        raise GeometryError(f"{where} has {n} {unit}, expected {expected}")
    for i in range(n):
        _walk(f"{where}.point[{i}]" if len(tail) == 2 else f"{where}.{names[i]}", v[i], tail[1:], names)


_T = TypeVar("_T", bound="_Table")


class _Table:
    """Shared row bookkeeping: fields, source index, visibility."""

    kind = "objects"

    if TYPE_CHECKING:  # each table kind defines it

        def take(self: _T, rows: np.ndarray, _gaps: np.ndarray | None = None) -> _T: ...

    def _init_rows(
        self, n: int, fields: Mapping[str, Any], index: Any, visibility: Any, copy_lists: bool = True
    ) -> None:
        self.fields: dict[str, Any] = {}
        for name, values in fields.items():
            if type(values) is not list and not (isinstance(values, np.ndarray) and values.ndim):
                _refuse_container(
                    f"{self.kind} field {name!r}", values, f"a list or an array of one value per object ({n})"
                )
            if len(values) != n:
                raise GeometryError(f"{self.kind} field {name!r} has {len(values)} values for {n} {self.kind}")
            # A caller's list is copied once, when it enters a table; tables derived inside geoaug (maps, clips,
            # takes) share their parent's field lists, which nothing edits in place.
            shared = isinstance(values, np.ndarray) or (type(values) is list and not copy_lists)
            self.fields[name] = values if shared else list(values)
        self.index = np.arange(n) if index is None else np.asarray(index, dtype=np.int64)
        self.visibility = np.ones(n) if visibility is None else np.asarray(visibility, dtype=np.float64)

    def _take_rows(self, rows: np.ndarray, gaps: np.ndarray | None = None) -> dict:
        return {
            "fields": {k: take_field(v, rows, gaps) for k, v in self.fields.items()},
            "index": take_rows(self.index, rows),
            "visibility": take_rows(self.visibility, rows),
        }

    def without(self: _T, rows: np.ndarray) -> _T:
        """All rows but ``rows`` (sorted, distinct), in order."""
        return self.take(complement(len(self), rows), _gaps=np.asarray(rows))

    def __len__(self) -> int:
        return len(self.index)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n={len(self)}, fields={sorted(self.fields)})"


class Boxes(_Table):
    """Axis-aligned boxes ``x1, y1, x2, y2`` on the pixel-edge frame, with per-box fields.

    A box made with ``Boxes.from_polygons`` keeps its polygon (``outline``): after a rotation its box is
    re-derived tightly from the mapped polygon instead of enclosing the rotated box, and clipping cuts the
    polygon, so visibility is the polygon's kept area."""

    kind = "boxes"
    outline = None  # Lines of closed polygons, one per row, or None

    @classmethod
    def from_polygons(cls, polygons: Any, **fields: Any) -> Boxes:
        """Boxes whose geometry is the bounds of each polygon ((K, 2) points, K >= 3), polygons kept."""
        outline = Lines(polygons, _name="polygons")
        short = np.nonzero(np.diff(outline.offsets) < 3)[0]
        if len(short):
            raise GeometryError(f"polygons[{int(short[0])}] needs at least 3 points")
        return cls(_row_bounds(outline), outline=outline, **fields)

    def __init__(
        self,
        xyxy: Any = None,
        *,
        index: Any = None,
        visibility: Any = None,
        outline: Any = None,
        _validate: Any = True,
        **fields: Any,
    ) -> None:  # outline: Lines or None (Any: **fields call sites)
        if xyxy is None:
            arr = np.zeros((0, 4))
        else:
            arr = (
                _numbers("boxes", xyxy, (4,), ("x1", "y1", "x2", "y2"))
                if _validate
                else np.asarray(xyxy, dtype=np.float64)
            )
        if _validate:
            if arr.ndim == 1 and arr.size == 0:
                arr = arr.reshape(0, 4)
            if arr.ndim != 2 or arr.shape[1] != 4:
                raise GeometryError(f"boxes must have shape (N, 4) as x1, y1, x2, y2; got shape {arr.shape}")
            _check_finite("boxes", arr, ("x1", "y1", "x2", "y2"))
            for lo, hi, a, b in ((0, 2, "x1", "x2"), (1, 3, "y1", "y2")):
                inverted = arr[:, hi] < arr[:, lo]
                if inverted.any():
                    r = int(np.argmax(inverted))
                    raise GeometryError(
                        f"boxes[{r}].{b} ({arr[r, hi]:g}) < {a} ({arr[r, lo]:g}): boxes are x1, y1, x2, y2"
                    )
        self.xyxy = arr
        if outline is not None:
            if not isinstance(outline, Lines) or len(outline) != len(arr):
                raise GeometryError(f"boxes outline must be Lines with one polygon per box ({len(arr)})")
            self.outline = outline
        self._init_rows(len(arr), fields, index, visibility, copy_lists=_validate)

    def take(self, rows: np.ndarray, _gaps: np.ndarray | None = None) -> Boxes:
        """The rows ``rows`` (indices, in that order), every field, index and visibility with them."""
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        outline = None if self.outline is None else self.outline.take(rows)
        return Boxes(
            take_rows(self.xyxy, rows),
            index=t["index"],
            visibility=t["visibility"],
            outline=outline,
            _validate=False,
            **t["fields"],
        )

    @property
    def area(self) -> np.ndarray:
        """Each box's area in square pixels."""
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])


class Quads(_Table):
    """4-point polygons ``(M, 4, 2)``: text lines, rotated objects. Order: clockwise from top-left."""

    kind = "quads"

    def __init__(
        self, points: Any = None, *, index: Any = None, visibility: Any = None, _validate: Any = True, **fields: Any
    ) -> None:
        if points is None:
            arr = np.zeros((0, 4, 2))
        else:
            arr = _numbers("quads", points, (4, 2), ("x", "y")) if _validate else np.asarray(points, dtype=np.float64)
        if _validate:
            if arr.size == 0 and arr.ndim < 3:
                arr = arr.reshape(0, 4, 2)
            if arr.ndim != 3 or arr.shape[1:] != (4, 2):
                detail = ""
                if arr.ndim == 3 and arr.shape[2] == 2:
                    detail = f": each quad needs exactly 4 (x, y) points, got {arr.shape[1]}"
                raise GeometryError(f"quads must have shape (M, 4, 2); got shape {arr.shape}{detail}")
            _check_finite("quads", arr, ("x", "y"))
        self.points = arr
        self._init_rows(len(arr), fields, index, visibility, copy_lists=_validate)

    def take(self, rows: np.ndarray, _gaps: np.ndarray | None = None) -> Quads:
        """The rows ``rows`` (indices, in that order), every field, index and visibility with them."""
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        return Quads(
            take_rows(self.points, rows), index=t["index"], visibility=t["visibility"], _validate=False, **t["fields"]
        )


_F = TypeVar("_F", bound="_FlatTable")


class _FlatTable(_Table):
    """Rows of any number of points each (lines, polygons), stored flat (points + row offsets) so that a
    matrix maps them all at once."""

    flat: np.ndarray
    offsets: np.ndarray

    def _set_flat(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        self.flat = flat
        self.offsets = offsets

    @classmethod
    def from_flat(
        cls: type[_F], flat: np.ndarray, offsets: Any, *, index: Any = None, visibility: Any = None, **fields: Any
    ) -> _F:
        """Build from concatenated points and row offsets without copying or re-validating."""
        obj = cls.__new__(cls)
        obj._set_flat(np.asarray(flat, dtype=np.float64), np.asarray(offsets, dtype=np.int64))
        obj._init_rows(len(obj.offsets) - 1, fields, index, visibility, copy_lists=False)
        return obj

    @property
    def points(self) -> list:
        o = self.offsets
        return [self.flat[o[i] : o[i + 1]] for i in range(len(o) - 1)]

    def take(self: _F, rows: np.ndarray, _gaps: np.ndarray | None = None) -> _F:
        """The rows ``rows`` (indices, in that order), every field, index and visibility with them."""
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        flat, offsets = gather_runs(self.flat, self.offsets[rows], np.diff(self.offsets)[rows])
        return type(self).from_flat(flat, offsets, index=t["index"], visibility=t["visibility"], **t["fields"])


class Lines(_FlatTable):
    """Polylines, each ``(K_i, 2)`` with K_i >= 2. Stored flat (points + offsets) to transform at once."""

    kind = "lines"

    def __init__(
        self,
        points: Iterable = (),
        *,
        index: Any = None,
        visibility: Any = None,
        _validate: bool = True,
        _name: str = "lines",
        **fields: Any,
    ) -> None:
        flat: np.ndarray | None
        offsets: np.ndarray | None
        if (
            isinstance(points, np.ndarray)
            and points.ndim == 3
            and points.shape[1] >= 2
            and points.shape[2] == 2
            and points.dtype.kind in "fiu"
        ):
            # N lines of K points each, as one array: already flat in memory, no per-line work at all
            n, k = points.shape[:2]
            flat, offsets = points.reshape(-1, 2).astype(np.float64), np.arange(0, n * k + 1, k, dtype=np.int64)
        else:
            if _validate:
                _refuse_container(_name, points, "a list of (K, 2) point arrays", iterator_ok=True)
            arrs = list(points)
            flat, offsets = _flat_fast(arrs)
        if flat is None:
            # Anything but a list of float (K, 2) arrays is converted and checked one line at a time, which
            # also finds the row to name in an error.
            arrs = [self._one(f"{_name}[{i}]", p, _validate) for i, p in enumerate(arrs)]
            flat = np.concatenate(arrs).astype(np.float64, copy=False) if arrs else np.zeros((0, 2))
            offsets = np.zeros(len(arrs) + 1, dtype=np.int64)
            np.cumsum([len(a) for a in arrs], out=offsets[1:])
        offsets = cast(np.ndarray, offsets)  # None only together with flat: rebuilt just above
        if _validate and len(flat) and not (flat.min() >= -COORD_LIMIT and flat.max() <= COORD_LIMIT):
            k, c = (int(v) for v in np.argwhere(~(np.abs(flat) <= COORD_LIMIT))[0])
            row = int(np.searchsorted(offsets, k, side="right") - 1)
            what = _bad_coordinate(flat[k, c])
            raise GeometryError(f"{_name}[{row}].point[{k - offsets[row]}].{'xy'[c]} {what}")
        self._set_flat(flat, offsets)
        self._init_rows(len(offsets) - 1, fields, index, visibility, copy_lists=_validate)

    MIN_POINTS = 2  # per row (a polygon table's intake asks for 3)

    @classmethod
    def _one(cls, where: str, p: Any, validate: bool) -> np.ndarray:
        if not validate:
            return np.asarray(p, dtype=np.float64)
        a = _numbers(where, p, (None, 2), ("x", "y"), table=False)
        if a.ndim != 2 or a.shape[1] != 2:
            raise GeometryError(f"{where} must have shape (K, 2); got shape {a.shape}")
        if len(a) < cls.MIN_POINTS:
            raise GeometryError(f"{where} needs at least {cls.MIN_POINTS} points, got {len(a)}")
        return a

    def lengths(self) -> np.ndarray:
        """Each line's length in pixels (the sum of its segments)."""
        seg = np.hypot(*np.diff(self.flat, axis=0).T) if len(self.flat) > 1 else np.zeros(0)
        csum = np.concatenate([[0.0], np.cumsum(seg)])
        o = self.offsets
        # segment k joins point k and k+1; a line spans points o[i]..o[i+1]-1
        out: np.ndarray = csum[o[1:] - 1] - csum[o[:-1]]
        return out


def _flat_fast(arrs: list) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """(points, offsets) when every line is already a numeric (K >= 2, 2) array: one concatenate, no
    per-line checks in Python (those cost ~0.1 ms per 1,000 lines). (None, None) sends the caller down
    the line-by-line path."""
    if not arrs:
        return np.zeros((0, 2)), np.zeros(1, dtype=np.int64)
    try:
        flat = np.concatenate(arrs)
    except (ValueError, TypeError):
        return None, None
    counts = np.fromiter(map(len, arrs), dtype=np.int64, count=len(arrs))
    # concatenate also accepts 1-d rows or rows of other widths; the flat shape tells them apart only
    # together with the row lengths (a 1-d row of 2 numbers has len 2 but adds 2 points' worth of scalars).
    if (
        flat.ndim != 2
        or flat.shape[1] != 2
        or flat.dtype.kind not in "fiu"
        or counts.sum() != len(flat)
        or counts.min() < 2
    ):
        return None, None
    offsets = np.zeros(len(arrs) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return flat.astype(np.float64, copy=False), offsets


def gather_runs(pts: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Concatenate the runs ``pts[starts[k]:starts[k] + sizes[k]]``, returning the points and the new row
    offsets."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    j = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)
    return take_rows(pts, np.repeat(starts, sizes) + j), offsets


def _row_bounds(lines: _FlatTable) -> np.ndarray:
    """(N, 4) bounds of each row of a flat point table."""
    if len(lines) == 0:
        return np.zeros((0, 4))
    start = lines.offsets[:-1]
    lo = np.minimum.reduceat(lines.flat, start, axis=0)
    hi = np.maximum.reduceat(lines.flat, start, axis=0)
    return np.concatenate([lo, hi], axis=1)


_TT = TypeVar("_TT", Boxes, Quads, Lines)


def _as_table(cls: type[_TT], x: Any) -> _TT:
    """``x`` as a ``cls`` table: None is an empty one, a table passes through, anything else is validated."""
    if x is None:
        return cls()
    return x if isinstance(x, cls) else cls(x)


def as_boxes(x: Any) -> Boxes:
    return _as_table(Boxes, x)


def as_quads(x: Any) -> Quads:
    return _as_table(Quads, x)


def as_lines(x: Any) -> Lines:
    if x is None or isinstance(x, Lines):
        return _as_table(Lines, x)
    if isinstance(x, np.ndarray) and x.ndim == 2:
        raise GeometryError(
            f"lines must be a sequence of (K, 2) arrays; got one array of shape {x.shape}"
            " (wrap a single line in a list)"
        )
    return Lines(x)
