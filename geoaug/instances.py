"""The instance tables: boxes, quads and lines, each row carrying its fields, index and visibility.

One table per kind, never parallel lists: dropping or splitting a row moves every field with it.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Any, Iterable, Mapping

import numpy as np

from .errors import GeometryError


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


def _check_finite(kind: str, arr: np.ndarray, axis_names: str) -> None:
    if np.isfinite(arr).all():
        return
    pos = np.argwhere(~np.isfinite(arr))[0]
    row = int(pos[0])
    what = "NaN" if np.isnan(arr[tuple(pos)]) else "infinite"
    field = axis_names[int(pos[-1])] if len(axis_names) > 1 else axis_names
    where = f"{kind}[{row}]" + (f".point[{int(pos[1])}]" if arr.ndim == 3 else "")
    raise GeometryError(f"{where}.{field} is {what}")


class _Table:
    """Shared row bookkeeping: fields, source index, visibility."""

    kind = "objects"

    def _init_rows(self, n: int, fields: Mapping[str, Any], index, visibility, copy_lists: bool = True) -> None:
        self.fields: dict[str, Any] = {}
        for name, values in fields.items():
            if isinstance(values, (str, bytes)) or not hasattr(values, "__len__"):
                raise GeometryError(f"{self.kind} field {name!r} must be a sequence with one value per object")
            if len(values) != n:
                raise GeometryError(
                    f"{self.kind} field {name!r} has {len(values)} values for {n} {self.kind}")
            # A caller's list is copied once, when it enters a table; tables derived inside geoaug (maps, clips,
            # takes) share their parent's field lists, which nothing edits in place.
            shared = isinstance(values, np.ndarray) or (type(values) is list and not copy_lists)
            self.fields[name] = values if shared else list(values)
        self.index = np.arange(n) if index is None else np.asarray(index, dtype=np.int64)
        self.visibility = np.ones(n) if visibility is None else np.asarray(visibility, dtype=np.float64)

    def _take_rows(self, rows: np.ndarray, gaps=None) -> dict:
        return {
            "fields": {k: take_field(v, rows, gaps) for k, v in self.fields.items()},
            "index": take_rows(self.index, rows),
            "visibility": take_rows(self.visibility, rows),
        }

    def without(self, rows: np.ndarray):
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
    def from_polygons(cls, polygons, **fields) -> "Boxes":
        """Boxes whose geometry is the bounds of each polygon ((K, 2) points, K >= 3), polygons kept."""
        outline = Lines(polygons)
        short = np.nonzero(np.diff(outline.offsets) < 3)[0]
        if len(short):
            raise GeometryError(f"polygons[{int(short[0])}] needs at least 3 points")
        return cls(_row_bounds(outline), outline=outline, **fields)

    def __init__(self, xyxy=None, *, index=None, visibility=None, outline=None, _validate=True, **fields):
        arr = np.zeros((0, 4)) if xyxy is None else np.asarray(xyxy, dtype=np.float64)
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
                        f"boxes[{r}].{b} ({arr[r, hi]:g}) < {a} ({arr[r, lo]:g}): boxes are x1, y1, x2, y2")
        self.xyxy = arr
        if outline is not None:
            if not isinstance(outline, Lines) or len(outline) != len(arr):
                raise GeometryError(f"boxes outline must be Lines with one polygon per box ({len(arr)})")
            self.outline = outline
        self._init_rows(len(arr), fields, index, visibility, copy_lists=_validate)

    def take(self, rows, _gaps=None) -> "Boxes":
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        outline = None if self.outline is None else self.outline.take(rows)
        return Boxes(take_rows(self.xyxy, rows), index=t["index"], visibility=t["visibility"], outline=outline,
                     _validate=False, **t["fields"])

    @property
    def area(self) -> np.ndarray:
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])


class Quads(_Table):
    """4-point polygons ``(M, 4, 2)``: text lines, rotated objects. Order: clockwise from top-left."""

    kind = "quads"

    def __init__(self, points=None, *, index=None, visibility=None, _validate=True, **fields):
        arr = np.zeros((0, 4, 2)) if points is None else np.asarray(points, dtype=np.float64)
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

    def take(self, rows, _gaps=None) -> "Quads":
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        return Quads(take_rows(self.points, rows), index=t["index"], visibility=t["visibility"], _validate=False, **t["fields"])


class Lines(_Table):
    """Polylines, each ``(K_i, 2)`` with K_i >= 2. Stored flat (points + offsets) to transform at once."""

    kind = "lines"

    def __init__(self, points: Iterable = (), *, index=None, visibility=None, _validate=True, **fields):
        if isinstance(points, np.ndarray) and points.ndim == 3 and points.shape[1] >= 2 and points.shape[2] == 2 \
                and points.dtype.kind in "fiu":
            # N lines of K points each, as one array: already flat in memory, no per-line work at all
            n, k = points.shape[:2]
            flat, offsets = points.reshape(-1, 2).astype(np.float64), np.arange(0, n * k + 1, k, dtype=np.int64)
        else:
            arrs = list(points)
            flat, offsets = _flat_fast(arrs)
        if flat is None:
            # Anything but a list of float (K, 2) arrays is converted and checked one line at a time, which
            # also finds the row to name in an error.
            arrs = [self._one(i, p, _validate) for i, p in enumerate(arrs)]
            flat = np.concatenate(arrs).astype(np.float64, copy=False) if arrs else np.zeros((0, 2))
            offsets = np.zeros(len(arrs) + 1, dtype=np.int64)
            np.cumsum([len(a) for a in arrs], out=offsets[1:])
        if _validate and len(flat) and not np.isfinite(flat).all():
            bad = ~np.isfinite(flat)
            k, c = (int(v) for v in np.argwhere(bad)[0])
            row = int(np.searchsorted(offsets, k, side="right") - 1)
            what = "NaN" if np.isnan(flat[k, c]) else "infinite"
            raise GeometryError(f"lines[{row}].point[{k - offsets[row]}].{'xy'[c]} is {what}")
        self._set_flat(flat, offsets)
        self._init_rows(len(offsets) - 1, fields, index, visibility, copy_lists=_validate)

    @staticmethod
    def _one(i: int, p, validate: bool) -> np.ndarray:
        a = np.asarray(p, dtype=np.float64)
        if validate and (a.ndim != 2 or a.shape[1] != 2):
            raise GeometryError(f"lines[{i}] must have shape (K, 2); got shape {a.shape}")
        if validate and len(a) < 2:
            raise GeometryError(f"lines[{i}] needs at least 2 points, got {len(a)}")
        return a

    def _set_flat(self, flat: np.ndarray, offsets: np.ndarray) -> None:
        self.flat = flat
        self.offsets = offsets

    @classmethod
    def from_flat(cls, flat, offsets, *, index=None, visibility=None, **fields) -> "Lines":
        """Build from concatenated points and row offsets without copying or re-validating."""
        obj = cls.__new__(cls)
        obj._set_flat(np.asarray(flat, dtype=np.float64), np.asarray(offsets, dtype=np.int64))
        obj._init_rows(len(obj.offsets) - 1, fields, index, visibility, copy_lists=False)
        return obj

    @property
    def points(self) -> list:
        o = self.offsets
        return [self.flat[o[i]:o[i + 1]] for i in range(len(o) - 1)]

    def take(self, rows, _gaps=None) -> "Lines":
        rows = np.asarray(rows, dtype=np.int64)
        t = self._take_rows(rows, _gaps)
        flat, offsets = gather_runs(self.flat, self.offsets[rows], np.diff(self.offsets)[rows])
        return Lines.from_flat(flat, offsets, index=t["index"], visibility=t["visibility"], **t["fields"])

    def lengths(self) -> np.ndarray:
        seg = np.hypot(*np.diff(self.flat, axis=0).T) if len(self.flat) > 1 else np.zeros(0)
        csum = np.concatenate([[0.0], np.cumsum(seg)])
        o = self.offsets
        # segment k joins point k and k+1; a line spans points o[i]..o[i+1]-1
        return csum[o[1:] - 1] - csum[o[:-1]]


def _flat_fast(arrs: list):
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
    if flat.ndim != 2 or flat.shape[1] != 2 or flat.dtype.kind not in "fiu" or counts.sum() != len(flat) \
            or counts.min() < 2:
        return None, None
    offsets = np.zeros(len(arrs) + 1, dtype=np.int64)
    np.cumsum(counts, out=offsets[1:])
    return flat.astype(np.float64, copy=False), offsets


def gather_runs(pts: np.ndarray, starts: np.ndarray, sizes: np.ndarray):
    """Concatenate the runs ``pts[starts[k]:starts[k] + sizes[k]]``, returning the points and the new row
    offsets."""
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    j = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)
    return take_rows(pts, np.repeat(starts, sizes) + j), offsets


def _row_bounds(lines: "Lines") -> np.ndarray:
    """(N, 4) bounds of each row of a flat point table."""
    if len(lines) == 0:
        return np.zeros((0, 4))
    start = lines.offsets[:-1]
    lo = np.minimum.reduceat(lines.flat, start, axis=0)
    hi = np.maximum.reduceat(lines.flat, start, axis=0)
    return np.concatenate([lo, hi], axis=1)


def _as_table(cls, x):
    """``x`` as a ``cls`` table: None is an empty one, a table passes through, anything else is validated."""
    if x is None:
        return cls()
    return x if isinstance(x, cls) else cls(x)


def as_boxes(x) -> Boxes:
    return _as_table(Boxes, x)


def as_quads(x) -> Quads:
    return _as_table(Quads, x)


def as_lines(x) -> Lines:
    if x is None or isinstance(x, Lines):
        return _as_table(Lines, x)
    if isinstance(x, np.ndarray) and x.ndim == 2:
        raise GeometryError(f"lines must be a sequence of (K, 2) arrays; got one array of shape {x.shape}"
                            " (wrap a single line in a list)")
    return Lines(x)
