"""Polygons: outlines of any number K >= 3 of vertices (instance outlines, COCO ``segmentation`` polygons),
mapped point by point, cut exactly to the canvas.

A polygon is one outline without holes. The cut is GEOS's overlay of the polygon with the canvas, paid only
by polygons with a vertex beyond an edge (the canvas being convex, a polygon whose vertices are all on it
lies on it whole). A polygon the canvas cuts into several parts becomes several rows, one per part, in
the source's order: each keeps the source's ``index`` and fields, ``report.split["polygons"]`` counts the
extra parts, and each part's visibility is its own area over the source's (the parts of one source add up
to its kept share, as a split line's pieces do). A polygon with nothing left is dropped and reported
(``outside``). Vertices that stay on the canvas keep their exact coordinates; new ones lie on a side.
Parts turn the way their source turns. A self-intersecting polygon crossing an edge is repaired first
(GEOS's ``make_valid``, "structure": a bow-tie becomes its two lobes; a repair with holes keeps its outer
outline, its visibility measured on the true area); one without area to speak of (see
``geoaug.clip.DEGENERATE``: collinear or repeated vertices) is measured by its outline's kept length and
keeps its vertices clamped onto the canvas, counted in ``report.approximated``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import cv2
import numpy as np
import shapely

from .. import matrix as M
from ..canvas import polyline
from ..clip import DEGENERATE, _clamp, _segment_window, _snap, crossing_rows, merge_parts, outside_points, report_parts
from ..errors import GeometryError
from ..instances import Boxes, Lines, _FlatTable, _row_bounds, gather_runs, take_field, take_rows
from ..report import Report
from .base import Kind, Options, Tag, register, rows_of

_EMPTY_FLAT = np.zeros((0, 2))
_EMPTY_FLAT.flags.writeable = False


class _Rings(Lines):
    """Lines' intake (fast paths for arrays and lists of arrays, errors naming row, point and field), with
    the 3 points a polygon needs."""

    MIN_POINTS = 3


class Polygons(_FlatTable):
    """Polygons, each ``(K_i, 2)`` vertices with K_i >= 3 (closed implicitly: do not repeat the first point),
    no holes. Stored flat (``flat`` points + ``offsets``, as ``Lines``) to transform at once; ``points`` is
    the list of per-polygon views.

    Takes a list of (K, 2) arrays or nested lists, or one (N, K, 2) array of N polygons of K points each.
    ``to_boxes()`` gives their tight boxes, which stay tight through rotations."""

    kind = "polygons"

    def __init__(
        self,
        points: Iterable = (),
        *,
        index: Any = None,
        visibility: Any = None,
        _validate: bool = True,
        **fields: Any,
    ) -> None:
        if isinstance(points, np.ndarray) and points.ndim == 2:
            raise GeometryError(
                f"polygons must be a sequence of (K, 2) arrays; got one array of shape {points.shape}"
                " (wrap a single polygon in a list)"
            )
        rings = _Rings(points, _validate=_validate, _name="polygons")
        sizes = np.diff(rings.offsets)
        if _validate and len(sizes) and sizes.min() < 3:
            r = int(np.argmax(sizes < 3))
            raise GeometryError(f"polygons[{r}] needs at least 3 points, got {int(sizes[r])}")
        self._set_flat(rings.flat, rings.offsets)
        self._init_rows(len(sizes), fields, index, visibility, copy_lists=_validate)

    @property
    def area(self) -> np.ndarray:
        """Each polygon's area (shoelace; of a self-intersecting one, its lobes' signed areas summed)."""
        out: np.ndarray = np.abs(signed_areas(self.flat, self.offsets))
        return out

    def bounds(self) -> np.ndarray:
        """(N, 4) ``x1, y1, x2, y2`` of each polygon."""
        return _row_bounds(self)

    def to_boxes(self) -> Boxes:
        """Each polygon's tight box, as ``Boxes.from_polygons`` makes them: the boxes keep their polygons, so
        after a rotation they are re-derived tightly from them (not the box around the rotated box), and a
        cut measures their visibility by area. Index, visibility and fields come along."""
        outline = Lines.from_flat(self.flat.copy(), self.offsets.copy())
        return Boxes(
            self.bounds(),
            outline=outline,
            index=self.index.copy(),
            visibility=self.visibility.copy(),
            **{k: v.copy() if isinstance(v, np.ndarray) else list(v) for k, v in self.fields.items()},
        )


def _ring_next(offsets: np.ndarray) -> np.ndarray:
    """Per flat vertex, the index of the next vertex of its own polygon (the last wraps to the first)."""
    nxt = np.arange(1, int(offsets[-1]) + 1)
    if len(offsets) > 1:
        nxt[offsets[1:] - 1] = offsets[:-1]
    return nxt


def signed_areas(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Shoelace area of each polygon of a flat table; positive = clockwise on screen (y down)."""
    if len(offsets) < 2:
        return np.zeros(0)
    nxt = take_rows(flat, _ring_next(offsets))
    c = flat[:, 0] * nxt[:, 1] - flat[:, 1] * nxt[:, 0]
    out: np.ndarray = np.add.reduceat(c, offsets[:-1]) / 2 if len(c) else np.zeros(len(offsets) - 1)
    return out


def _min_rect_side(t: Polygons) -> np.ndarray:
    """The shorter side of each polygon's minimum-area enclosing rectangle (its thickness: a text line's
    height, whatever its angle)."""
    out = np.zeros(len(t))
    for r, p in enumerate(t.points):
        (_, _), (a, b), _ = cv2.minAreaRect(np.ascontiguousarray(p, dtype=np.float32))
        out[r] = min(a, b)
    return out


def clip_polygons(
    t: Polygons, w: float, h: float, report: Report, *, counter: str = "clipped", owned: bool = False
) -> Polygons:
    """``t`` cut to [0, w] x [0, h] (see the module's docstring). ``owned``: the coordinates are a fresh array
    of ours (a map's output), edited in place; a caller's array is copied first."""
    if len(t) == 0:
        return t
    o, flat = t.offsets, np.ascontiguousarray(t.flat)
    found = crossing_rows(flat, o, w, h)  # points beyond an edge by more than HAIR cut their polygons
    if found is None:
        return t
    loose, crossing = found
    if len(crossing):  # cut from the points as they are, before any snapping
        pts, sizes, owner, share, approx = _polygon_parts(flat, o, crossing, w, h)
    flat = flat if owned else flat.copy()
    flat[loose] = _clamp(flat[loose], w, h)
    if not len(crossing):
        return Polygons.from_flat(flat, o, index=t.index, visibility=t.visibility, **t.fields)
    parts = report_parts(report, "polygons", t.index, crossing, owner, counter)
    if approx:
        report.approximated["polygons"] += approx
    _snap(pts, w, h)  # a crossing computed near a canvas corner can land a rounding error beyond a side

    out_flat, offsets, rows, vis = merge_parts(flat, o, crossing, parts, pts, sizes, t.visibility, share)
    fields = {k: take_field(v, rows) for k, v in t.fields.items()}
    return Polygons.from_flat(out_flat, offsets, index=take_rows(t.index, rows), visibility=vis, **fields)


def _polygon_parts(
    flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray, w: float, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """The visible parts of the polygons ``rows``: (vertices, vertices per part, position in ``rows`` of each
    part's polygon, each part's share of its polygon's area, how many were approximated). Parts are ordered
    by polygon, then as GEOS gives them."""
    starts, sizes = offsets[rows], np.diff(offsets)[rows]
    src, _ = gather_runs(flat, starts, sizes)
    ring_of = np.repeat(np.arange(len(rows)), sizes)
    sub_off = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(sizes, out=sub_off[1:])
    turn = signed_areas(src, sub_off)
    edges = take_rows(src, _ring_next(sub_off)) - src
    seg = np.sqrt(edges[:, 0] * edges[:, 0] + edges[:, 1] * edges[:, 1])
    perimeter = np.bincount(ring_of, weights=seg, minlength=len(rows))
    polys = shapely.polygons(shapely.linearrings(src, indices=ring_of))
    # repaired to polygonal pieces (a bow-tie: its two lobes); an outline with no area collapses to empty
    fixed = shapely.make_valid(polys, method="structure", keep_collapsed=False)
    area0 = shapely.area(fixed)
    thin = area0 <= DEGENERATE * perimeter * perimeter  # no area to speak of: measured by the outline
    inter = shapely.intersection(fixed, shapely.box(0.0, 0.0, w, h))
    geoms, gi = shapely.get_parts(inter, return_index=True)
    live = (shapely.get_type_id(geoms) == 3) & ~thin[gi]
    part_area = shapely.area(geoms)
    live &= part_area > 0
    geoms, gi, part_area = geoms[live], gi[live], part_area[live]
    # each part turns the way its source does: counter-clockwise with y up is clockwise on screen
    cw = turn[gi] >= 0
    geoms = shapely.orient_polygons(geoms, exterior_cw=False)
    geoms[~cw] = shapely.reverse(geoms[~cw])
    xy, owner = shapely.get_coordinates(shapely.get_exterior_ring(geoms), return_index=True)
    closing = np.ones(len(owner), dtype=bool)
    closing[:-1] = owner[1:] != owner[:-1]  # each ring repeats its first point last
    xy = xy[~closing]
    part_sizes = np.bincount(owner, minlength=len(geoms)) - 1
    share = np.minimum(part_area / area0[gi], 1.0)
    approx = 0
    if thin.any():  # the outline's kept length; the vertices clamped onto the canvas, as one part
        pick = np.flatnonzero(thin[ring_of])
        t0, t1, _, _ = _segment_window(take_rows(src, pick), take_rows(edges, pick), w, h)
        kept = np.bincount(ring_of[pick], weights=seg[pick] * np.maximum(t1 - t0, 0.0), minlength=len(rows))
        t_keep = np.flatnonzero(thin & (kept > 0))
        approx = len(t_keep)
        if approx:
            tp, _ = gather_runs(src, sub_off[t_keep], sizes[t_keep])
            _snap(tp, w, h)
            # merged with the other parts, in polygon order (both are sorted by polygon)
            all_sizes = np.concatenate([part_sizes, sizes[t_keep]])
            all_owner = np.concatenate([gi, t_keep])
            all_share = np.concatenate([share, np.minimum(kept[t_keep] / perimeter[t_keep], 1.0)])
            order = np.argsort(all_owner, kind="stable")
            off = np.zeros(len(all_sizes) + 1, dtype=np.int64)
            np.cumsum(all_sizes, out=off[1:])
            xy, _ = gather_runs(np.concatenate([xy, tp]), off[order], all_sizes[order])
            part_sizes, gi, share = all_sizes[order], all_owner[order], all_share[order]
    return xy, part_sizes, gi, share, approx


@register
class PolygonKind(Kind):
    name = "polygons"
    order = 4
    table = Polygons
    # min_area: the polygon's area; min_size: the shorter side of its minimum-area enclosing rectangle
    filters = ("min_visibility", "min_area", "min_size")
    answer_key = "polygon_2d"
    answer_min = 3

    def intake(self, x: Any, size: tuple[int, int] | None = None) -> Polygons:
        if x is None:  # every call without polygons: no validation, shared read-only empty coordinates
            return Polygons.from_flat(_EMPTY_FLAT, np.zeros(1, dtype=np.int64))
        return x if isinstance(x, Polygons) else Polygons(x)

    def empty(self) -> Polygons:
        return Polygons()

    def map(self, t: Polygons, a: np.ndarray, size: tuple[int, int], opts: Options) -> Polygons:
        if len(t) == 0:
            return t
        return Polygons.from_flat(
            M.apply_points(a, t.flat), t.offsets, index=t.index, visibility=t.visibility, **t.fields
        )

    def clip(
        self,
        t: Polygons,
        w: float,
        h: float,
        report: Report,
        opts: Options,
        *,
        counter: str = "clipped",
        owned: bool = False,
    ) -> Polygons:
        return clip_polygons(t, w, h, report, counter=counter, owned=owned)

    def outside_row(self, t: Polygons, w: float, h: float) -> int | None:
        bad = outside_points(t.flat, w, h)
        if not bad.any():
            return None
        return int(np.searchsorted(t.offsets, int(np.argmax(bad)), side="right") - 1)

    def bounds(self, t: Polygons, a: np.ndarray) -> np.ndarray:
        if not len(t):
            return np.zeros((0, 4))
        return Polygons.from_flat(M.apply_points(a, t.flat), t.offsets).bounds()

    def measures(self, t: Polygons) -> dict[str, Callable[[], np.ndarray]]:
        return {
            "min_visibility": lambda: t.visibility,
            "min_area": lambda: t.area,
            "min_size": lambda: _min_rect_side(t),
        }

    def coords(self, t: Polygons) -> list[np.ndarray]:
        return [t.flat, t.offsets]

    def own_coords(self, t: Polygons, own: Callable[[Any], Any], given: Polygons) -> None:
        t._set_flat(own(t.flat), own(t.offsets))

    def empty_is_private(self, t: Polygons) -> bool:
        # an empty table's offsets still hold its one 0; its flat may be the shared read-only empty array
        t._set_flat(np.zeros((0, 2)), np.array(t.offsets))
        return True

    def concat(self, tables: Sequence[Polygons], fields: dict[str, Any]) -> Polygons:
        return Polygons([p for t in tables for p in t.points], _validate=False, **rows_of(tables), **fields)

    def draw(
        self, canvas: np.ndarray, t: Polygons, labels: list, colour: Callable[[Any], tuple], thickness: int
    ) -> list[Tag]:
        tags: list[Tag] = []
        for pts, lab in zip(t.points, labels):  # closed, no dot: a polygon's first vertex has no role
            c = colour(lab)
            polyline(canvas, pts, True, c, thickness)
            top = int(np.argmin(pts[:, 1]))
            tags.append((pts[top][0], pts[top][1], lab, c))
        return tags

    def answer_rows(self, t: Polygons) -> list[np.ndarray]:
        return t.points

    def from_answer_rows(self, rows: list[np.ndarray]) -> Polygons:
        return Polygons(rows)


__all__ = ["PolygonKind", "Polygons", "clip_polygons", "signed_areas"]
