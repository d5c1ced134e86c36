"""The one clipping routine: cut every kind of object to a canvas [0, W] x [0, H].

Boxes are clipped; quads are intersected with the canvas and stay quads while that is exact (else the
``quad_clip`` policy applies); lines are intersected and may split into several pieces. Visibility is
multiplied by the kept fraction (area for boxes and quads, length for lines; a quad or box polygon without
area to speak of, see DEGENERATE, by the length of its outline), never above 1. Objects with nothing left
are dropped and reported. Only objects that actually cross an edge pay for exact geometry. A quad is cut
the same alone or among any others (each row's numbers come from that row alone).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import cv2
import numpy as np
import shapely

from .geometry import cross, signed_area
from .instances import Boxes, Lines, Quads, gather_runs, take_field, take_rows
from .matrix import canvas_corners
from .report import Report

# Points this close outside the canvas are rounding noise (float maps, -1e-6 from an annotation tool):
# snapped to the edge silently rather than counted as clipped.
HAIR = 1e-3

# What a quad whose cut is no quad becomes: "fit", the 4-gon that best covers the visible polygon (_fit_quads);
# "clamp", its corners clamped onto the canvas (cheap, but far from the visible part when a corner is cut
# off); "drop", dropped and reported.
QUAD_CLIP_POLICIES = ("fit", "clamp", "drop")

# A quad whose area (of its repaired shape, for a self-intersecting one) is at most this share of its
# perimeter squared has no area to speak of: a line written as a quad (repeated or collinear corners, a
# sliver a thousandth of a pixel thick along 1,000). A kept share of such an area is a ratio of rounding
# errors, so a cut one is measured by its outline instead: visibility = kept length / perimeter.
# (A square scores 1/16, a 1000 x 1 text line 2.5e-4.)
DEGENERATE = 1e-6


def clip_boxes(
    boxes: Boxes, w: float, h: float, report: Report, *, counter: str = "clipped", owned: bool = False
) -> Boxes:
    """``owned``: the coordinates are a fresh array of ours (a map's output), edited in place; a caller's
    array is copied first."""
    if len(boxes) == 0:
        return boxes
    b = boxes.xyxy
    x1, y1, x2, y2 = b.T
    # A box within the canvas keeps every number (clipped = itself, kept fraction exactly 1): only the
    # ones reaching past an edge pay for the arithmetic below. Whole-array and 1-D column operations only:
    # numpy walks (N, 4) row-wise operations one 4-wide row at a time, ~10x slower.
    if b.min() >= 0 and x2.max() <= w and y2.max() <= h:
        getattr(report, counter)["boxes"] += 0  # the report lists boxes as checked, as before
        return boxes
    # the slack to each side, (x1, y1, w - x2, h - y2), in one OpenCV pass; a box crosses when any is
    # negative: its 4 sign tests read as one word
    slack = cv2.transform(np.ascontiguousarray(b).reshape(-1, 1, 4), _slack_map(w, h)).reshape(-1, 4)
    rows = np.flatnonzero(_any4(slack < 0))
    if boxes.outline is not None:
        return _clip_outlined(boxes, rows, w, h, report, counter)
    br = take_rows(b, rows)
    c = np.maximum(br, 0.0)
    c1, d1, c2, d2 = c.T
    np.minimum(c1, w, out=c1), np.minimum(c2, w, out=c2), np.minimum(d1, h, out=d1), np.minimum(d2, h, out=d2)
    moved = np.abs(c - br).max(axis=1) > HAIR
    bx1, by1, bx2, by2 = br.T
    area, carea = (bx2 - bx1) * (by2 - by1), (c2 - c1) * (d2 - d1)
    # Entirely beyond a side, or a box with area that has none left: gone.
    gone = (bx1 > w) | (by1 > h) | (bx2 < 0) | (by2 < 0) | ((area > 0) & (carea <= 0))
    out_xyxy = b if owned else b.copy()
    out_xyxy[rows] = c
    vis = boxes.visibility.copy()
    vis[rows] *= np.divide(carea, area, out=np.ones(len(rows)), where=area > 0)
    getattr(report, counter)["boxes"] += int(np.count_nonzero(moved & ~gone))
    out = Boxes(out_xyxy, index=boxes.index, visibility=vis, _validate=False, **boxes.fields)
    if not gone.any():
        return out
    report.drop("boxes", boxes.index[rows[gone]], "outside")
    return out.without(rows[gone])


def _clip_outlined(boxes: Boxes, rows: np.ndarray, w: float, h: float, report: Report, counter: str) -> Boxes:
    """Boxes that carry their polygon: cut the polygon, and the box becomes the bounds of what is left."""
    assert boxes.outline is not None  # the caller's test
    pts = boxes.outline.points
    # an outline an earlier cut collapsed to a segment or a point is padded to the 3 points a ring needs
    polys = shapely.make_valid(
        np.array(
            [
                shapely.Polygon(pts[r] if len(pts[r]) >= 3 else np.concatenate([pts[r]] + [pts[r][-1:]] * 2)[:3])
                for r in rows
            ],
            dtype=object,
        )
    )
    inter = shapely.intersection(polys, shapely.box(0.0, 0.0, w, h))
    area0, area1 = shapely.area(polys), shapely.area(inter)
    xyxy, vis, keep = boxes.xyxy.copy(), boxes.visibility.copy(), np.ones(len(boxes), dtype=bool)
    for r, geom, a0, a1 in zip(rows, inter, area0, area1):
        ring = pts[r]
        edges = np.roll(ring, -1, axis=0) - ring
        seg = np.sqrt(edges[:, 0] * edges[:, 0] + edges[:, 1] * edges[:, 1])
        perimeter = seg.sum()
        if a0 <= DEGENERATE * perimeter * perimeter:  # no area to speak of: measured by its outline, as quads
            t0, t1, _, _ = _segment_window(ring, edges, w, h)
            a1, a0 = (seg * np.maximum(t1 - t0, 0.0)).sum(), perimeter
        if geom.is_empty or a1 <= 0:
            keep[r] = False
            continue
        x1, y1, x2, y2 = geom.bounds
        xyxy[r] = [max(x1, 0.0), max(y1, 0.0), min(x2, w), min(y2, h)]
        vis[r] *= min(a1 / a0, 1.0)
        part = geom if geom.geom_type == "Polygon" else shapely.convex_hull(geom)
        if part.geom_type == "Polygon":
            pts[r] = np.asarray(part.exterior.coords)[:-1]
        else:  # a sliver that collapsed to a segment or a point
            pts[r] = np.asarray(part.coords).reshape(-1, 2)
    getattr(report, counter)["boxes"] += int(keep[rows].sum())
    report.drop("boxes", boxes.index[~keep], "outside")
    out = Boxes(
        xyxy, index=boxes.index, visibility=vis, outline=Lines(pts, _validate=False), _validate=False, **boxes.fields
    )
    return out if keep.all() else out.take(np.nonzero(keep)[0])


def _near(flat: np.ndarray, w: float, h: float, tol: float = HAIR) -> np.ndarray:
    """Per point of (N, 2): 255 where within the canvas grown by ``tol``, else 0. One OpenCV pass over both
    coordinates of every point (a handful of numpy passes and temporaries otherwise)."""
    out: np.ndarray = cv2.inRange(
        np.ascontiguousarray(flat).reshape(-1, 1, 2), (-tol, -tol), (w + tol, h + tol)
    ).reshape(-1)
    return out


def _all(mask: np.ndarray) -> bool:
    return cv2.countNonZero(mask) == len(mask)


def outside_points(flat: np.ndarray, w: float, h: float) -> np.ndarray:
    """Per point of (N, 2): beyond the canvas by more than HAIR."""
    out: np.ndarray = _near(flat, w, h) == 0
    return out


def clip_quads(
    quads: Quads,
    w: float,
    h: float,
    report: Report,
    *,
    policy: str = "fit",
    counter: str = "clipped",
    owned: bool = False,
) -> Quads:
    if len(quads) == 0:
        return quads
    pts = np.ascontiguousarray(quads.points)
    inside = _near(pts.reshape(-1, 2), w, h, 0.0)
    if _all(inside):
        return quads
    # Only quads with a point beyond an edge are looked at again: its 4 mask bytes read as one word are not
    # all ones. Of those, the ones beyond by more than HAIR are cut; the rest are only snapped.
    loose = np.flatnonzero(inside.view(np.uint32) != 0xFFFFFFFF)
    sub = take_rows(pts, loose)
    sub_rows = np.flatnonzero(_near(sub.reshape(-1, 2), w, h).view(np.uint32) != 0xFFFFFFFF)
    pts = pts if owned else pts.copy()
    vis, keep = quads.visibility, None
    if len(sub_rows):
        rows = loose[sub_rows]
        cut = take_rows(sub, sub_rows)
        kept, ring, as_quad, area0, thin, poly, corners = _cut(cut, w, h)
        share = np.divide(kept, area0, out=np.ones(len(rows)), where=area0 > 0)
        if thin.any():  # measured by their outline (see DEGENERATE); one with no length left is gone
            t = np.flatnonzero(thin)
            kept[t], perimeter = _outline_kept(take_rows(cut, t), w, h)
            share[t] = np.divide(kept[t], perimeter, out=np.zeros(len(t)), where=perimeter > 0)
        np.minimum(share, 1.0, out=share)  # the kept part's rounding may exceed the whole's by an ulp
        gone = kept <= 0  # nothing left
        live = ~gone
        vis = vis.copy()
        vis[rows] *= share
        as_quad &= live
        not_quad = live & ~as_quad
        q = np.flatnonzero(as_quad)
        sub[sub_rows[q]] = _keep_roles(take_rows(ring, q), take_rows(cut, q), w, h)
        if policy == "drop":
            gone |= not_quad
        elif not_quad.any():
            nq = np.flatnonzero(not_quad)
            if policy == "fit":
                src = take_rows(cut, nq)
                fit = _fit_quads(src, take_rows(poly, nq), take_rows(corners, nq), w, h)
                sub[sub_rows[nq]] = _keep_roles(fit, src, w, h)
            else:
                sub[sub_rows[nq]] = _clamp(take_rows(cut, nq), w, h)
            report.approximated["quads"] += len(nq)
        getattr(report, counter)["quads"] += int(np.count_nonzero(live))
        if gone.any():
            keep = rows[gone]
            for r, bad in zip(keep.tolist(), not_quad[gone].tolist()):  # in row order
                report.drop("quads", [quads.index[r]], "not_a_quad_after_clip" if bad else "outside")
    _snap(sub, w, h)
    pts[loose] = sub
    out = Quads(pts, index=quads.index, visibility=vis, _validate=False, **quads.fields)
    return out if keep is None else out.without(keep)


def _cut_quads(pts: np.ndarray, w: float, h: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Intersect quads with the canvas: (kept area, (n, 4, 2) corners where the result is exactly a quad,
    mask of those, area of each quad (of its repaired shape when it is not simple)). See _cut."""
    return _cut(pts, w, h)[:4]


def _cut(
    pts: np.ndarray, w: float, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """_cut_quads, a mask of the quads without area to speak of (DEGENERATE), and for the quads cut in closed
    form the whole cut polygon: (n, 12, 2) corners clockwise on screen, the slots after the last repeating
    the first, and how many there are (0 for the quads cut by GEOS).

    Strictly convex quads with an area (not DEGENERATE) in general position (no corner on a side's line,
    no canvas corner on an edge's line) are cut in closed form, all at once (_cut_convex). The rest go
    through GEOS's overlay: every one made valid first (self-intersecting, concave, degenerate ones are
    repaired; GEOS's rectangle clipper fails on slivers and on quads far larger than the canvas).

    Every number of a row is computed from that row alone, elementwise or by per-row reductions (a BLAS
    matrix-vector product rounds a row differently by its position in the batch): a quad is cut the same,
    to the last bit, alone or among thousands."""
    n = len(pts)
    kept, ring, is_quad = np.zeros(n), np.zeros((n, 4, 2)), np.zeros(n, dtype=bool)
    poly, corners = np.zeros((n, 12, 2)), np.zeros(n, dtype=np.int64)
    edges = pts[:, _NEXT] - pts
    ex, ey = edges[..., 0], edges[..., 1]
    perimeter = _sum4(np.sqrt(ex * ex + ey * ey))
    least = perimeter * perimeter
    least *= DEGENERATE
    cpe = cross(pts, edges)  # summed: twice the signed area (shoelace)
    twice = _sum4(cpe)
    area0 = np.abs(twice) / 2
    thin = area0 <= least  # final for convex quads, whose shoelace area is their area; the rest: below
    turn = cross(edges, edges[:, _NEXT])  # at each corner (after its edge): strictly convex when all turn
    turn *= turn[:, :1]  # one way (so also simple and not degenerate)
    convex = _all4(turn > 0)
    convex[thin] = False  # cut by GEOS like the other degenerate ones
    # cross(edge, canvas corner - quad corner), (n, 4 canvas corners, 4 edges): > 0 on the edge's inner
    # side for a clockwise quad
    side = np.empty((n, 4, 4))
    ewy, ehx = ey * w, ex * h
    side[:, 0], side[:, 3] = cpe, cpe + ehx
    np.subtract(cpe, ewy, out=side[:, 1])
    np.subtract(side[:, 3], ewy, out=side[:, 2])
    side *= np.sign(twice)[:, None, None]
    # a corner on a side's line: |x - w/2| = w/2 exactly for x = 0 and x = w (rarely also for a coordinate
    # within rounding of those, which is then merely sent to GEOS)
    half = _half(w, h)
    general = convex & ~_any8(np.abs(pts - half) == half)
    # a canvas corner on an edge's line: such an edge can touch the canvas at that corner only, a corner
    # of the cut that neither the edge (empty window) nor the strict inside test would report
    if not side.all():
        general &= ~_any16(side == 0)
    if general.any():
        k: Any = np.flatnonzero(general)
        k = k if len(k) < n else slice(None)  # all rows: a view, not a gather
        inner = _all4((side[k] > 0).reshape(-1, 4)).reshape(-1, 4)
        kept[k], poly[k], corners[k] = _cut_convex(pts[k], edges[k], inner, w, h)
        ring[k], is_quad[k] = poly[k, :4], corners[k] == 4
    rest = np.flatnonzero(~general)
    if len(rest):
        shapes = shapely.make_valid(shapely.polygons(pts[rest]))
        inter = shapely.intersection(shapes, shapely.box(0.0, 0.0, w, h))
        # a bow-tie's shoelace sum cancels between its lobes: measure what was cut, the repaired shape
        cvx = convex[rest]
        if not cvx.all():
            fix = rest[~cvx]
            area0[fix] = shapely.area(shapes[~cvx])
            thin[fix] = area0[fix] <= least[fix]
        ring[rest], is_quad[rest] = _quad_corners(inter)
        kept[rest] = shapely.area(inter)
    return kept, ring, is_quad, area0, thin, poly, corners


def _sum4(a: np.ndarray) -> np.ndarray:
    """Row sums of an (n, 4) array, always in the same order."""
    out: np.ndarray = a[:, 0] + a[:, 1] + a[:, 2] + a[:, 3]
    return out


def _outline_kept(pts: np.ndarray, w: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """(length of each quad's outline within the canvas, its perimeter): its 4 edges cut on their own, all at
    once."""
    edges = pts[:, _NEXT] - pts
    t0, t1, _, _ = _segment_window(pts.reshape(-1, 2), edges.reshape(-1, 2), w, h)
    ex, ey = edges[..., 0], edges[..., 1]
    seg = np.sqrt(ex * ex + ey * ey)
    return _sum4(seg * np.maximum(t1 - t0, 0.0).reshape(-1, 4)), _sum4(seg)


_NEXT = [1, 2, 3, 0]


def _all4(mask: np.ndarray) -> np.ndarray:
    """Rows of an (n, 4) bool array that are all true: the 4 bytes read as one word (numpy's any/all along
    a short axis costs several microseconds a call)."""
    out: np.ndarray = np.ascontiguousarray(mask).reshape(-1, 4).view(np.uint32).reshape(-1) == 0x01010101
    return out


def _any4(mask: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.ascontiguousarray(mask).reshape(-1, 4).view(np.uint32).reshape(-1) != 0
    return out


def _any8(mask: np.ndarray) -> np.ndarray:
    """Per quad of an (n, 4, 2) bool array: any true."""
    out: np.ndarray = np.ascontiguousarray(mask).reshape(-1, 8).view(np.uint64).reshape(-1) != 0
    return out


def _any16(mask: np.ndarray) -> np.ndarray:
    """Per quad of an (n, 4, 4) bool array: any true."""
    return _any8(mask.reshape(-1, 8)).reshape(-1, 2).any(axis=1)  # type: ignore[return-value]  # .any(axis=1) of a 2-d array: an array


@lru_cache(maxsize=64)
def _half(w: float, h: float) -> np.ndarray:
    return np.array([w / 2, h / 2])


@lru_cache(maxsize=64)
def _slack_map(w: float, h: float) -> np.ndarray:
    return np.array([[1.0, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, -1, 0, w], [0, 0, 0, -1, h]])


@lru_cache(maxsize=64)
def _side_at(w: float, h: float) -> np.ndarray:
    """Where the canvas sides lie, by the side numbers of _segment_window (0: x=0, 1: y=0, 2: x=w, 3: y=h)."""
    return np.array([0.0, 0.0, w, h])


def _cut_convex(
    pts: np.ndarray, edges: np.ndarray, inner: np.ndarray, w: float, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Strictly convex quads in general position (see _cut_quads) cut by the canvas: (kept area, the cut
    polygon's (n, 12, 2) corners clockwise on screen, the slots after the last repeating the first, how many
    there are). ``inner``: (n, 4) which canvas corners lie inside each quad.

    The cut polygon's corners are: where each edge enters the canvas (its start, when that is inside),
    where it leaves before its end, and the canvas corners inside the quad. In general position these are
    distinct and no three in a row, so the cut is a quad exactly when there are 4 of them. Being convex,
    they go round in order of angle about their mean, which gives the kept area by the shoelace formula."""
    n = len(pts)
    p0, d = pts.reshape(-1, 2), edges.reshape(-1, 2)
    t0, t1, side_in, side_out = _segment_window(p0, d, w, h)
    seen = t1 > t0
    # each edge's start and end points, (2, 4n): t0 = 0 keeps the corner exactly
    t = np.stack([t0, t1])
    ends = p0 + t[..., None] * d
    crossing = np.stack([seen & (t0 > 0), seen & (t1 < 1)])
    _onto_sides(ends.reshape(-1, 2), crossing.reshape(-1), np.stack([side_in, side_out]).reshape(-1), w, h)
    cand = np.empty((n, 12, 2))
    cand[:, :8] = ends.reshape(2, n, 4, 2).transpose(1, 0, 2, 3).reshape(n, 8, 2)
    cand[:, 8:] = canvas_corners(w, h)
    valid = np.empty((n, 12), dtype=bool)
    crossing[0] = seen  # a seen edge's start is a corner of the cut, inside or on the side
    valid[:, :8] = crossing.reshape(2, n, 4).transpose(1, 0, 2).reshape(n, 8)
    valid[:, 8:] = inner
    weight = valid.astype(np.float64)
    count = weight @ _ONES12  # whole numbers: exact in any order
    # a stack of (1, 12) @ (12, 2) products, one per quad and each of the same size: a quad's centre does not
    # depend on the others (unlike one matrix-vector product over the batch, which numpy hands to BLAS whole)
    centre = (weight[:, None] @ cand)[:, 0] / np.maximum(count, 1)[:, None]
    angle = np.arctan2(cand[..., 1] - centre[:, 1:], cand[..., 0] - centre[:, :1])
    angle[~valid] = np.inf  # absent corners sort last
    order = np.argsort(angle, axis=1)
    order += 12 * np.arange(n)[:, None]
    ring = take_rows(cand.reshape(-1, 2), order.reshape(-1)).reshape(n, 12, 2)
    # absent slots repeat the first corner: zero-length edges add nothing to the shoelace sum
    absent = _SLOTS >= count[:, None]
    ring[absent] = np.repeat(ring[:, 0], (12 - count).astype(np.int64), axis=0)
    twice = cross(ring[:, :-1], ring[:, 1:]).sum(axis=1) + cross(ring[:, -1], ring[:, 0])  # shoelace
    kept = np.abs(twice) / 2
    return kept, ring, count


_SLOTS = np.arange(12)[None]
_ONES12 = np.ones(12)


def _segment_window(
    p0: np.ndarray, d: np.ndarray, w: float, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Liang-Barsky for segments ``p0 + t d``, t in [0, 1], all at once: the part in [0, w] x [0, h] is
    [t0, t1] (none where t1 <= t0), entered through side ``side_in`` when t0 > 0 and left through
    ``side_out`` when t1 < 1 (0: x=0, 1: y=0, 2: x=w, 3: y=h)."""
    n = len(p0)
    pd = np.empty((n, 4))
    pd[:, :2], pd[:, 2:] = p0, d
    q = pd @ _LB_Q  # per side: how far inside the start is ...
    q[:, 2] += w
    q[:, 3] += h
    p = pd @ _LB_P  # ... and how fast the segment moves out through it
    # a segment all but parallel to a side divides by ~0: +-inf is the right answer (it never crosses that side)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r = q / p
    enter = np.where(p < 0, r, -np.inf)
    leave = np.where(p > 0, r, np.inf)
    side_in, side_out = enter.argmax(axis=1), leave.argmin(axis=1)
    idx = np.arange(n)
    t0 = np.maximum(enter[idx, side_in], 0.0)
    t1 = np.minimum(leave[idx, side_out], 1.0)
    beyond = (p == 0) & (q < 0)  # parallel to a side and beyond it
    if beyond.any():
        t1[_any4(beyond)] = -1.0
    return t0, t1, side_in, side_out


# (x, y, dx, dy) @ these: q = (x, y, -x, -y) (w and h are added), p = (-dx, -dy, dx, dy)
_LB_Q = np.array([[1.0, 0, -1, 0], [0, 1, 0, -1], [0, 0, 0, 0], [0, 0, 0, 0]])
_LB_P = np.array([[0.0, 0, 0, 0], [0, 0, 0, 0], [-1, 0, 1, 0], [0, -1, 0, 1]])


def _quad_corners(geoms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The cut results that are exactly quads (one polygon, no holes, 4 corners once repeated and straight
    corners are removed): their corners and a mask. Others (several parts, holes, 3 or 5+ corners) are left
    to the policy. Corners are counted in numpy over all rings at once (GEOS's simplify costs ~1 us each)."""
    ring = np.zeros((len(geoms), 4, 2))
    is_quad = np.zeros(len(geoms), dtype=bool)
    poly = np.nonzero((shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0))[0]
    if len(poly) == 0:
        return ring, is_quad
    pts, owner = shapely.get_coordinates(shapely.get_exterior_ring(geoms[poly]), return_index=True)
    closing = np.ones(len(owner), dtype=bool)
    closing[:-1] = owner[1:] != owner[:-1]  # each ring repeats its first point last
    pts, owner = pts[~closing], owner[~closing]
    # repeated corners first (both copies would look straight), then corners on a straight edge
    keep = ~(pts == pts[_ring_step(owner, -1)]).all(axis=1)
    pts, owner = pts[keep], owner[keep]
    a = pts - pts[_ring_step(owner, -1)]
    b = pts[_ring_step(owner, 1)] - pts
    keep = cross(a, b) != 0
    pts, owner = pts[keep], owner[keep]
    quad = np.bincount(owner, minlength=len(poly)) == 4
    is_quad[poly[quad]] = True
    ring[poly[quad]] = pts[quad[owner]].reshape(-1, 4, 2)
    return ring, is_quad


def _ring_step(owner: np.ndarray, step: int) -> np.ndarray:
    """Index of the next (step 1) or previous (step -1) point of each point's own ring; rings are runs of
    equal ``owner``."""
    idx = np.arange(len(owner))
    first = np.ones(len(owner), dtype=bool)
    first[1:] = owner[1:] != owner[:-1]
    starts = np.nonzero(first)[0]
    ends = np.append(starts[1:], len(owner)) - 1
    run = np.cumsum(first) - 1
    if step > 0:
        return np.where(idx == ends[run], starts[run], idx + 1)
    return np.where(first, ends[run], idx - 1)


def _keep_roles(ring: np.ndarray, originals: np.ndarray, w: float, h: float) -> np.ndarray:
    """Clipped quads in their original's rotational order, starting where the original's first point now
    lies (the clipped first corner), so each corner keeps its role."""
    flip = (signed_area(ring) > 0) != (signed_area(originals) > 0)
    ring = ring.copy()
    ring[flip] = ring[flip, ::-1]
    first = _clamp(originals[:, 0], w, h)
    gap = ring - first[:, None]
    start = (gap[..., 0] ** 2 + gap[..., 1] ** 2).argmin(axis=1)
    order = (start[:, None] + _STEPS4) % 4
    order += 4 * np.arange(len(ring))[:, None]
    return take_rows(ring.reshape(-1, 2), order.reshape(-1)).reshape(-1, 4, 2)


_STEPS4 = np.arange(4)[None]


def _fit_quads(pts: np.ndarray, poly: np.ndarray, corners: np.ndarray, w: float, h: float) -> np.ndarray:
    """Quads whose cut by the canvas is no quad (a triangle, a pentagon, ... or, for a concave quad, several
    parts): the 4-gon that best covers the visible part, corners on the canvas (policy "fit").

    The visible part's convex hull (the visible part itself for a convex quad: ``poly``, its ``corners``
    from _cut, or GEOS's overlay where those are 0) is fitted by the best, by IoU with the hull, of two
    families of 4-gons, all scored at once (_best_4gon):

    - inscribed: 4 of the hull's corners (the largest 4-gon inside a convex polygon has its corners at the
      polygon's corners); IoU = its area / the hull's;
    - enclosing: 4 of the hull's edges extended until they meet, when the 4 meeting points lie on the canvas
      (a cut-off corner comes back as far as the canvas allows); IoU = the hull's area / its area.

    A triangle gains a corner in the middle of its longest edge (IoU 1). A row whose visible part has no area
    (a quad without area to speak of, see DEGENERATE) is clamped. Corners go clockwise on screen; the caller
    restores the original's turning direction and first corner (_keep_roles)."""
    ring, count = poly, corners
    geos = np.flatnonzero(count == 0)
    if len(geos):
        ring, count = ring.copy(), count.copy()
        ring[geos], count[geos] = _hulls(pts[geos], w, h)
    out = _clamp(pts, w, h)
    tri = np.flatnonzero(count == 3)
    if len(tri):  # a corner in the middle of the longest edge
        t = take_rows(ring, tri)[:, :5]  # slot 3 repeats corner 0
        e = t[:, 1:4] - t[:, :3]
        long = np.argmax(e[..., 0] ** 2 + e[..., 1] ** 2, axis=1)
        i = np.arange(len(tri))
        t[:, 4] = t[i, long] + e[i, long] / 2  # the new corner, then the ring with it after corner `long`
        out[tri] = take_rows(t.reshape(-1, 2), (_TRI[long] + 5 * i[:, None]).reshape(-1)).reshape(-1, 4, 2)
    big = np.flatnonzero(count >= 4)
    if len(big):
        out[big] = _best_4gon(take_rows(ring, big), take_rows(count, big), w, h)
    return out


def _hulls(pts: np.ndarray, w: float, h: float) -> tuple[np.ndarray, np.ndarray]:
    """The convex hull of each quad's visible part, by GEOS, as _cut's polygons: (n, 12, 2) corners clockwise
    on screen, the slots after the last repeating the first, and how many (0 where it has no area)."""
    n = len(pts)
    ring, count = np.zeros((n, 12, 2)), np.zeros(n, dtype=np.int64)
    seen = shapely.intersection(shapely.make_valid(shapely.polygons(pts)), shapely.box(0.0, 0.0, w, h))
    hull = shapely.convex_hull(seen)
    ok = np.flatnonzero((shapely.get_type_id(hull) == 3) & (shapely.area(hull) > 0))
    if not len(ok):
        return ring, count
    # hulls of a quad's visible part have at most 12 corners (4 of the quad, 8 crossings; canvas corners
    # replace crossings); GEOS drops repeated and straight corners
    hull = shapely.orient_polygons(hull[ok], exterior_cw=False)  # counter-clockwise with y up: clockwise on screen
    xy, owner = shapely.get_coordinates(shapely.get_exterior_ring(hull), return_index=True)
    size = np.bincount(owner, minlength=len(ok))  # each ring repeats its first point last
    count[ok] = np.minimum(size - 1, 12)
    start = np.cumsum(size) - size
    slot = np.minimum(np.arange(len(owner)) - start[owner], 11)
    ring[ok[owner], slot] = xy
    pad = _SLOTS12 >= count[:, None]
    ring[pad] = np.repeat(ring[:, 0], 12 - count, axis=0)
    return ring, count


_SLOTS12 = np.arange(12)[None]
_TRI = np.array([[0, 4, 1, 2], [0, 1, 4, 2], [0, 1, 2, 4]])  # a triangle's corners and a new one after corner 0, 1, 2


@lru_cache(maxsize=16)
def _combos(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Every choice of 4 of 0..k-1, increasing, (C, 4); and the same choices as 4 lines each followed by the
    next (C, 4) (columns 1, 2, 3, 0)."""
    from itertools import combinations

    c = np.array(list(combinations(range(k), 4)), dtype=np.int64).reshape(-1, 4)
    return c, c[:, _NEXT]


def _best_4gon(ring: np.ndarray, count: np.ndarray, w: float, h: float) -> np.ndarray:
    """For clockwise convex polygons of 4 or more corners (as _cut's: padded by the first corner, ``count``
    each), the inscribed or enclosing 4-gon of the best IoU with the polygon (see _fit_quads)."""
    k = int(count.max())
    ring = ring[:, : k + 1]  # the slot after the last corner holds the first: edge k-1 closes the ring
    combos, after = _combos(k)
    valid = combos[:, 3] < count[:, None]  # (m, C)
    d = ring[:, 1:] - ring[:, :-1]  # edge i: corner i to corner i + 1 (0 past the last corner)
    area = cross(ring[:, :-1], ring[:, 1:]).sum(axis=1) / 2  # shoelace; padding adds 0
    inner = ring[:, combos]  # (m, C, 4, 2)
    iou_in = signed_area(inner) / area[:, None]
    iou_in[~valid] = -1.0
    # enclosing: chosen edge j's line meets chosen edge j + 1's beyond its end when the turn between them is
    # clockwise and under a half turn (their directions' cross product > 0: the chosen edges are in order)
    p, v = inner, d[:, combos]
    p2, v2 = ring[:, after], d[:, after]
    turn = cross(v, v2)
    with np.errstate(divide="ignore", invalid="ignore"):  # parallel lines: inf or NaN, refused below
        t = cross(p2 - p, v2) / turn
        corner = p + t[..., None] * v
    good = _near(corner.reshape(-1, 2), w, h).reshape(turn.shape) != 0  # on the canvas (NaN: not)
    good &= turn > 0
    good = valid & _all4(good).reshape(valid.shape)
    a_out = signed_area(corner)
    with np.errstate(divide="ignore", invalid="ignore"):
        iou_out = area[:, None] / a_out
    iou_out[~good | ~(a_out > 0)] = -1.0
    i = np.arange(len(ring))
    best_in, best_out = iou_in.argmax(axis=1), iou_out.argmax(axis=1)
    use_out = iou_out[i, best_out] > iou_in[i, best_in]
    out: np.ndarray = np.where(use_out[:, None, None], corner[i, best_out], inner[i, best_in])
    return out


def _clamp(p: np.ndarray, w: float, h: float) -> np.ndarray:
    """A snapped copy (see _snap)."""
    out: np.ndarray = p.copy()
    _snap(out, w, h)
    return out


def _snap(pts: np.ndarray, w: float, h: float) -> None:
    # ufuncs on the coordinate planes: np.clip's Python wrapper costs more than the work
    flat = pts.reshape(-1, 2)  # 1-D strided planes: numpy walks (n, 4) planes row by row, far slower
    x, y = flat[:, 0], flat[:, 1]
    np.maximum(x, 0.0, out=x)
    np.minimum(x, w, out=x)
    np.maximum(y, 0.0, out=y)
    np.minimum(y, h, out=y)


def clip_lines(
    lines: Lines, w: float, h: float, report: Report, *, counter: str = "clipped", owned: bool = False
) -> Lines:
    if len(lines) == 0:
        return lines
    o, flat = lines.offsets, np.ascontiguousarray(lines.flat)
    found = crossing_rows(flat, o, w, h)
    if found is None:
        return lines
    loose, crossing = found
    if len(crossing):  # cut from the points as they are, before any snapping
        pts, sizes, owner, kept, total = _line_pieces(flat, o, crossing, w, h)
    flat = flat if owned else flat.copy()
    flat[loose] = _clamp(flat[loose], w, h)
    if not len(crossing):
        return Lines.from_flat(flat, o, index=lines.index, visibility=lines.visibility, **lines.fields)
    parts = report_parts(report, "lines", lines.index, crossing, owner, counter)
    _snap(pts, w, h)  # a crossing near a canvas corner can land a rounding error beyond the other side

    share = np.divide(kept, take_rows(total, owner), out=np.ones(len(kept)), where=kept > 0)
    out_flat, offsets, rows, vis = merge_parts(flat, o, crossing, parts, pts, sizes, lines.visibility, share)
    fields = {k: take_field(v, rows) for k, v in lines.fields.items()}
    return Lines.from_flat(out_flat, offsets, index=take_rows(lines.index, rows), visibility=vis, **fields)


def crossing_rows(flat: np.ndarray, o: np.ndarray, w: float, h: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Which points of a flat table (rows at offsets ``o``) leave the canvas: None when none does; else the
    points off it (to snap) and the rows with a point beyond it by more than HAIR (to cut; sorted, each once).
    Only points off the canvas are looked at a second time."""
    inside = _near(flat, w, h, 0.0)
    if _all(inside):
        return None
    loose = np.flatnonzero(inside == 0)
    beyond = loose[_near(take_rows(flat, loose), w, h) == 0]
    owner = np.searchsorted(o, beyond, side="right") - 1  # sorted: keep each row once
    return loose, owner[np.flatnonzero(np.diff(owner, prepend=-1))]


def report_parts(
    report: Report, kind: str, index: np.ndarray, crossing: np.ndarray, owner: np.ndarray, counter: str
) -> np.ndarray:
    """Count the pieces of each cut row (``owner``: each piece's position in ``crossing``) and report them:
    rows with none left dropped as "outside", rows with some counted under ``counter``, extra pieces as
    splits. Returns the pieces per cut row."""
    parts = np.bincount(owner, minlength=len(crossing))
    report.drop(kind, index[crossing[parts == 0]], "outside")
    if parts.any():
        getattr(report, counter)[kind] += int(np.count_nonzero(parts))
        report.split[kind] += int(len(owner) - np.count_nonzero(parts))
    return parts


def merge_parts(
    flat: np.ndarray,
    o: np.ndarray,
    crossing: np.ndarray,
    parts: np.ndarray,
    pts: np.ndarray,
    sizes: np.ndarray,
    visibility: np.ndarray,
    share: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """A flat table's rows with the cut ones (``crossing``, in order) replaced by their pieces: row r becomes
    ``parts`` of it (1 when untouched, 0 when gone), each a run of its own points or of a piece's (``pts``,
    ``sizes`` per piece, pieces in row order), by index arithmetic with no per-row Python. Returns the points,
    the row offsets, each new row's source row (to take index and fields by) and its visibility (the source's,
    times the piece's kept ``share``)."""
    n = len(o) - 1
    per_row = np.ones(n, dtype=np.int64)
    per_row[crossing] = parts
    rows = np.repeat(np.arange(n), per_row)
    is_cut = np.zeros(n, dtype=bool)
    is_cut[crossing] = True
    cut_slot = np.flatnonzero(is_cut[rows])
    starts, counts = take_rows(o, rows), take_rows(o[1:], rows)
    counts -= starts
    starts[cut_slot] = len(flat) + np.cumsum(sizes) - sizes
    counts[cut_slot] = sizes
    vis = take_rows(visibility, rows)
    vis[cut_slot] *= share
    out_flat, offsets = gather_runs(np.concatenate([flat, pts]), starts, counts)
    return out_flat, offsets, rows, vis


def _line_pieces(
    flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray, w: float, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Visible pieces of the polylines ``rows`` on [0, w] x [0, h], each in its line's own direction,
    ordered by line and then along it: (points, points per piece, position in ``rows`` of each piece's
    line, kept length per piece, total length per row).

    Every segment is cut on its own (_segment_window), all at once; consecutive visible segments joined
    at an untouched vertex form one piece. Vertices that stay inside keep their exact coordinates and
    crossings lie exactly on their side. A line is never cut where it crosses itself, only where it
    leaves the canvas."""
    start = offsets[rows]
    n_seg = offsets[rows + 1] - start - 1
    before = np.cumsum(n_seg) - n_seg
    # each segment by the flat index of its first point; a line's segments are consecutive numbers, and
    # the next line's first one is at least 2 further (its last point starts none)
    seg = np.arange(before[-1] + n_seg[-1]) + np.repeat(start - before, n_seg)
    owner = np.repeat(np.arange(len(rows)), n_seg)
    p0, p1 = take_rows(flat, seg), take_rows(flat, seg + 1)
    d = p1 - p0
    t0, t1, side_in, side_out = _segment_window(p0, d, w, h)
    seg_len = np.hypot(d[:, 0], d[:, 1])
    total = np.bincount(owner, weights=seg_len, minlength=len(rows))
    k = np.flatnonzero(t1 > t0)
    if not len(k):
        none = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2)), none, none, np.zeros(0), total
    t0, t1, sk = t0[k], t1[k], seg[k]
    # a piece goes on through the next segment of its line when this one ends at its far vertex and that
    # one starts at its near one
    starts = np.ones(len(k), dtype=bool)
    starts[1:] = (sk[1:] - sk[:-1] != 1) | (t1[:-1] != 1.0) | (t0[1:] != 0.0)
    # start and end of each visible segment, (2, K, 2): t0 = 0 and t1 = 1 give exactly the vertices
    dk = take_rows(d, k)
    ends = np.stack([take_rows(p0, k), take_rows(p1, k)])
    ends += np.stack([t0, t1 - 1.0])[..., None] * dk
    _onto_sides(ends.reshape(-1, 2), np.concatenate([t0 > 0, t1 < 1]), np.concatenate([side_in[k], side_out[k]]), w, h)
    # each visible segment emits its end point, and a piece's first segment also its start point
    end_at = np.cumsum(starts) + np.arange(len(k))
    out = np.empty((end_at[-1] + 1, 2))
    out[end_at] = ends[1]
    out[end_at[starts] - 1] = ends[0][starts]
    piece = np.cumsum(starts) - 1
    sizes = np.bincount(piece) + 1
    kept = np.bincount(piece, weights=seg_len[k] * (t1 - t0))
    owners = owner[k[starts]]
    if (kept <= 0).any():  # a piece of repeated points only (a line that touches the canvas at a point)
        live = np.flatnonzero(kept > 0)
        off = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=off[1:])
        out, _ = gather_runs(out, off[live], sizes[live])
        sizes, kept, owners = sizes[live], kept[live], owners[live]
    return out, sizes, owners, kept, total


def _onto_sides(pts: np.ndarray, crossing: np.ndarray, side: np.ndarray, w: float, h: float) -> None:
    """Put the points where ``crossing`` exactly on their side (numbers as in _segment_window)."""
    i = np.flatnonzero(crossing)
    s = side[i]
    pts[i, s & 1] = _side_at(w, h)[s]
