"""The one clipping routine: cut every kind of object to a canvas [0, W] x [0, H].

Boxes are clipped; quads are intersected with the canvas and stay quads while that is exact (else the
``quad_clip`` policy applies); lines are intersected and may split into several pieces. Visibility is
multiplied by the kept fraction (area for boxes and quads, length for lines). Objects with nothing left
are dropped and reported. Only objects that actually cross an edge pay for exact geometry.
"""
from __future__ import annotations

import numpy as np
import shapely

from .geometry import cross, signed_area
from .instances import Boxes, Lines, Quads, gather_runs, take_field, take_rows
from .report import Report

# Points this close outside the canvas are rounding noise (float maps, -1e-6 from an annotation tool):
# snapped to the edge silently rather than counted as clipped.
HAIR = 1e-3

QUAD_CLIP_POLICIES = ("clamp", "drop")


def clip_boxes(boxes: Boxes, w: float, h: float, report: Report, *, counter: str = "clipped",
               owned: bool = False) -> Boxes:
    """``owned``: the coordinates are a fresh array of ours (a map's output), edited in place; a caller's
    array is copied first."""
    if len(boxes) == 0:
        return boxes
    b = boxes.xyxy
    x1, y1, x2, y2 = b.T
    # A box within the canvas keeps every number (clipped = itself, kept fraction exactly 1): only the
    # ones reaching past an edge pay for the arithmetic below. Whole-array and column reductions first:
    # numpy walks (N, 4) row-wise operations one 4-wide row at a time.
    if b.min() >= 0 and x2.max() <= w and y2.max() <= h:
        getattr(report, counter)["boxes"] += 0  # the report lists boxes as checked, as before
        return Boxes(b if owned else b.copy(), index=boxes.index, visibility=boxes.visibility, outline=boxes.outline,
                     _validate=False, **boxes.fields)
    cross = (x1 < 0) | (y1 < 0) | (x2 > w) | (y2 > h)
    out_xyxy, vis = b if owned else b.copy(), boxes.visibility
    rows = np.nonzero(cross)[0]
    if boxes.outline is not None:
        return _clip_outlined(boxes, rows, w, h, report, counter)
    br = take_rows(b, rows)
    c = np.empty_like(br)
    moved = np.zeros(len(rows), dtype=bool)
    for k, top in enumerate((w, h, w, h)):
        np.clip(br[:, k], 0.0, top, out=c[:, k])
        moved |= np.abs(c[:, k] - br[:, k]) > HAIR
    area = (br[:, 2] - br[:, 0]) * (br[:, 3] - br[:, 1])
    carea = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
    # A box with no area left (or a degenerate one that ended up off-canvas) is gone.
    gone = (br[:, 0] > w) | (br[:, 2] < 0) | (br[:, 1] > h) | (br[:, 3] < 0) | ((area > 0) & (carea <= 0))
    out_xyxy[rows] = c
    vis = vis.copy()
    vis[rows] *= np.where(area > 0, carea / np.where(area > 0, area, 1.0), 1.0)
    getattr(report, counter)["boxes"] += int((moved & ~gone).sum())
    report.drop("boxes", boxes.index[rows[gone]], "outside")
    out = Boxes(out_xyxy, index=boxes.index, visibility=vis, _validate=False, **boxes.fields)
    return out.take(np.delete(np.arange(len(b)), rows[gone])) if gone.any() else out


def _clip_outlined(boxes: Boxes, rows, w, h, report: Report, counter: str) -> Boxes:
    """Boxes that carry their polygon: cut the polygon, and the box becomes the bounds of what is left."""
    pts = boxes.outline.points
    polys = shapely.make_valid(np.array([shapely.Polygon(pts[r]) for r in rows], dtype=object))
    inter = shapely.intersection(polys, shapely.box(0.0, 0.0, w, h))
    area0, area1 = shapely.area(polys), shapely.area(inter)
    xyxy, vis, keep = boxes.xyxy.copy(), boxes.visibility.copy(), np.ones(len(boxes), dtype=bool)
    for r, geom, a0, a1 in zip(rows, inter, area0, area1):
        if geom.is_empty or (a0 > 0 and a1 <= 0):
            keep[r] = False
            continue
        x1, y1, x2, y2 = geom.bounds
        xyxy[r] = [max(x1, 0.0), max(y1, 0.0), min(x2, w), min(y2, h)]
        vis[r] *= a1 / a0 if a0 > 0 else 1.0
        part = geom if geom.geom_type == "Polygon" else shapely.convex_hull(geom)
        if part.geom_type == "Polygon":
            pts[r] = np.asarray(part.exterior.coords)[:-1]
        else:  # a sliver that collapsed to a segment or a point
            pts[r] = np.asarray(part.coords).reshape(-1, 2)
    getattr(report, counter)["boxes"] += int(keep[rows].sum())
    report.drop("boxes", boxes.index[~keep], "outside")
    out = Boxes(xyxy, index=boxes.index, visibility=vis, outline=Lines(pts, _validate=False), _validate=False,
                **boxes.fields)
    return out if keep.all() else out.take(np.nonzero(keep)[0])


def _inside(pts: np.ndarray, w: float, h: float) -> np.ndarray:
    """Per row of (N, K, 2): are all points within the canvas up to HAIR."""
    return ~outside_points(pts.reshape(-1, 2), w, h).reshape(len(pts), -1).any(axis=1)


def _all_inside(flat: np.ndarray, w: float, h: float, tol: float) -> bool:
    """All (N, 2) points within the canvas grown by ``tol``: four column reductions, the cheap common case."""
    x, y = flat.T
    return x.min() >= -tol and y.min() >= -tol and x.max() <= w + tol and y.max() <= h + tol


def outside_points(flat: np.ndarray, w: float, h: float) -> np.ndarray:
    """Per point of (N, 2): beyond the canvas by more than HAIR."""
    x, y = flat.T
    return (x < -HAIR) | (y < -HAIR) | (x > w + HAIR) | (y > h + HAIR)


def clip_quads(quads: Quads, w: float, h: float, report: Report, *, policy: str = "clamp",
               counter: str = "clipped", owned: bool = False) -> Quads:
    if len(quads) == 0:
        return quads
    pts = quads.points
    flat = pts.reshape(-1, 2)
    if _all_inside(flat, w, h, HAIR):
        if not _all_inside(flat, w, h, 0.0):  # snap a copy, not the caller's
            pts = pts if owned else pts.copy()
            _snap(pts, w, h)
            return Quads(pts, index=quads.index, visibility=quads.visibility, _validate=False, **quads.fields)
        return quads
    out_pt = outside_points(flat, w, h).reshape(-1, 4)
    rows = np.nonzero(out_pt[:, 0] | out_pt[:, 1] | out_pt[:, 2] | out_pt[:, 3])[0]
    pts = pts if owned else pts.copy()
    vis = quads.visibility.copy()
    keep = np.ones(len(quads), dtype=bool)
    cut = take_rows(pts, rows)
    kept, ring, as_quad = _cut_quads(cut, w, h)
    area0 = np.abs(signed_area(cut))
    gone = ((area0 > 0) & (kept <= 0)) | ((area0 == 0) & ~_inside(cut, w, h))
    vis[rows] *= np.where(area0 > 0, kept / np.where(area0 > 0, area0, 1.0), 1.0)
    live = ~gone
    as_quad &= live
    not_quad = live & ~as_quad
    pts[rows[as_quad]] = _keep_roles(ring[as_quad], cut[as_quad], w, h)
    if policy == "drop":
        keep[rows[not_quad]] = False
    else:
        pts[rows[not_quad]] = _clamp(cut[not_quad], w, h)
        if not_quad.any():
            report.approximated["quads"] += int(not_quad.sum())
    keep[rows[gone]] = False
    if live.any():
        getattr(report, counter)["quads"] += int(live.sum())
    for r, is_gone, bad in zip(rows[~as_quad], gone[~as_quad], not_quad[~as_quad]):  # dropped rows, in order
        if is_gone:
            report.drop("quads", [quads.index[r]], "outside")
        elif bad and policy == "drop":
            report.drop("quads", [quads.index[r]], "not_a_quad_after_clip")
    _snap(pts, w, h)
    out = Quads(pts, index=quads.index, visibility=vis, _validate=False, **quads.fields)
    return out if keep.all() else out.take(np.nonzero(keep)[0])


def _cut_quads(pts: np.ndarray, w: float, h: float):
    """Intersect quads with the canvas: (kept area, (M, 4, 2) corners where the result is exactly a quad,
    mask of those). A strictly convex quad reaching past one side only (the usual case: a text line at the
    border) is cut in closed form, all at once. The rest go through GEOS together (per-quad calls cost ~50 us
    each): convex ones take its rectangle clipper, ~30x faster than a general overlay and exact for convex
    input; self-intersecting, concave or degenerate ones are repaired (make_valid) and overlaid."""
    kept, ring, is_quad = np.zeros(len(pts)), np.zeros((len(pts), 4, 2)), np.zeros(len(pts), dtype=bool)
    convex = _strictly_convex(pts)
    x, y = pts[..., 0], pts[..., 1]
    dist = np.stack([x, w - x, y, h - y], axis=2)  # (K, 4 points, 4 sides): > 0 on the canvas side
    beyond = (dist < 0).any(axis=1)
    one = convex & (beyond.sum(axis=1) == 1) & (dist != 0).all(axis=(1, 2))
    if one.any():
        rows = np.nonzero(one)[0]
        side = np.argmax(beyond[rows], axis=1)
        f = np.take_along_axis(dist[rows], side[:, None, None], axis=2)[..., 0]
        kept[rows], ring[rows], is_quad[rows] = _cut_one_side(pts[rows], f, side, w, h)
    rest = np.nonzero(~one)[0]
    if len(rest):
        inter = np.empty(len(rest), dtype=object)
        cvx = convex[rest]
        if cvx.any():
            inter[cvx] = shapely.clip_by_rect(shapely.polygons(pts[rest[cvx]]), 0.0, 0.0, w, h)
        if not cvx.all():
            inter[~cvx] = shapely.intersection(shapely.make_valid(shapely.polygons(pts[rest[~cvx]])),
                                               shapely.box(0.0, 0.0, w, h))
        ring[rest], is_quad[rest] = _quad_corners(inter)
        kept[rest] = shapely.area(inter)
    return kept, ring, is_quad


def _cut_one_side(pts: np.ndarray, f: np.ndarray, side: np.ndarray, w: float, h: float):
    """Convex quads each cut by one canvas side (0: x=0, 1: x=w, 2: y=0, 3: y=h), with signed distances
    ``f`` to it (none exactly 0): (kept area, corners, is a quad). The points beyond the side form a run;
    each is replaced by where the edge to its inside neighbour meets the side, put exactly on it. Two
    beyond: still a quad. One: a corner cut off (five corners), three: a triangle, both left to the
    policy. Four: nothing left."""
    out = f < 0
    n_out = out.sum(axis=1)
    nxt, prv = [1, 2, 3, 0], [3, 0, 1, 2]
    to_next, to_prev = (pts + _crossing_at(f, f[:, k])[..., None] * (pts[:, k] - pts) for k in (nxt, prv))
    cut = np.where(out[..., None], np.where(~out[:, prv, None], to_prev, to_next), pts)
    rows, corner = np.nonzero(out)
    axis = side[rows] // 2
    cut[rows, corner, axis] = np.where(side[rows] % 2 == 0, 0.0, np.where(axis == 0, w, h))
    kept = np.where(n_out == 2, np.abs(signed_area(cut)), 0.0)
    # one beyond: the whole quad less the cut-off triangle; three beyond: the triangle at the one inside
    tri = np.abs(cross(to_prev - pts, to_next - pts)) / 2
    kept = np.where(n_out == 1, np.abs(signed_area(pts)) - np.where(out, tri, 0.0).sum(axis=1), kept)
    kept = np.where(n_out == 3, np.where(out, 0.0, tri).sum(axis=1), kept)
    return kept, cut, n_out == 2


def _crossing_at(f: np.ndarray, f_other: np.ndarray) -> np.ndarray:
    """Where along the edge from a point (distance ``f``) to another (``f_other``) the side is met; 0 where
    both lie on the same side (unused there)."""
    den = f - f_other
    return np.divide(f, den, out=np.zeros_like(f), where=(f < 0) != (f_other < 0))


def _strictly_convex(pts: np.ndarray) -> np.ndarray:
    """Per quad: all turns in the same direction and none straight (so also simple and non-degenerate)."""
    e = np.roll(pts, -1, axis=1) - pts
    f = np.roll(e, -1, axis=1)
    turn = cross(e, f)
    return (turn > 0).all(axis=1) | (turn < 0).all(axis=1)


def _quad_corners(geoms: np.ndarray):
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
    start = np.argmin(np.hypot(*(ring - first[:, None, :]).transpose(2, 0, 1)), axis=1)
    order = (start[:, None] + np.arange(4)) % 4
    return np.take_along_axis(ring, order[:, :, None], axis=1)


def _clamp(p: np.ndarray, w: float, h: float) -> np.ndarray:
    out = p.copy()
    np.clip(out[..., 0], 0.0, w, out=out[..., 0])
    np.clip(out[..., 1], 0.0, h, out=out[..., 1])
    return out


def _snap(pts: np.ndarray, w: float, h: float) -> None:
    np.clip(pts[..., 0], 0.0, w, out=pts[..., 0])
    np.clip(pts[..., 1], 0.0, h, out=pts[..., 1])


def clip_lines(lines: Lines, w: float, h: float, report: Report, *, counter: str = "clipped",
               owned: bool = False) -> Lines:
    if len(lines) == 0:
        return lines
    o = lines.offsets
    if _all_inside(lines.flat, w, h, HAIR):
        flat = lines.flat if owned else lines.flat.copy()
        _snap(flat, w, h)
        return Lines.from_flat(flat, o, index=lines.index, visibility=lines.visibility, **lines.fields)
    # a line is inside when all its points are: count outside points per row over the flat array
    out_pt = outside_points(lines.flat, w, h)
    bad_cum = np.zeros(len(out_pt) + 1, dtype=np.int64)
    np.cumsum(out_pt, out=bad_cum[1:])
    inside = bad_cum[o[1:]] == bad_cum[o[:-1]]

    # Only crossing rows are cut; then the pieces and the untouched rows are merged back into row order
    # with index arithmetic, no per-row Python.
    crossing = np.nonzero(~inside)[0]
    pts, sizes, owner, kept, total = _line_pieces(lines.flat, o, crossing, w, h)
    flat = lines.flat if owned else lines.flat.copy()  # after the cut: the pieces need the unsnapped points
    _snap(flat, w, h)
    n_parts = np.bincount(owner, minlength=len(crossing))
    report.drop("lines", lines.index[crossing[n_parts == 0]], "outside")
    if (n_parts > 0).any():
        getattr(report, counter)["lines"] += int((n_parts > 0).sum())
        report.split["lines"] += int((n_parts[n_parts > 0] - 1).sum())
    _snap(pts, w, h)
    cut_rows = crossing[owner]
    total = take_rows(total, owner)
    share = np.where(total > 0, kept / np.where(total > 0, total, 1.0), 1.0)
    cut_vis = take_rows(lines.visibility, cut_rows) * share

    counts = np.diff(o)
    in_rows = np.nonzero(inside)[0]
    rows = np.concatenate([in_rows, cut_rows])
    seg_sizes = np.concatenate([take_rows(counts, in_rows), sizes])
    all_pts = np.concatenate([flat, pts])
    seg_starts = np.concatenate([take_rows(o, in_rows), len(flat) + np.concatenate([[0], np.cumsum(sizes)[:-1]])])
    all_vis = np.concatenate([take_rows(lines.visibility, in_rows), cut_vis])
    order = np.argsort(rows, kind="stable")  # pieces of one row keep their order along it
    out_flat, offsets = gather_runs(all_pts, take_rows(seg_starts, order), take_rows(seg_sizes, order))
    rows = take_rows(rows, order)
    fields = {k: take_field(v, rows) for k, v in lines.fields.items()}
    return Lines.from_flat(out_flat, offsets, index=take_rows(lines.index, rows),
                           visibility=take_rows(all_vis, order), **fields)


def _line_pieces(flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray, w: float, h: float):
    """Visible pieces of the polylines ``rows`` on [0, w] x [0, h], each in its line's own direction,
    ordered by line and then along it: (points, points per piece, position in ``rows`` of each piece's
    line, kept length per piece, total length per row).

    Every segment is cut on its own (Liang-Barsky: the parameter interval [t0, t1] of the segment that
    lies in the canvas), all at once; consecutive visible segments joined at an untouched vertex form one
    piece. Vertices that stay inside keep their exact coordinates. A line is never cut where it crosses
    itself, only where it leaves the canvas."""
    counts = offsets[rows + 1] - offsets[rows]
    pts, off = gather_runs(flat, offsets[rows], counts)
    first = np.zeros(len(pts), dtype=bool)
    first[off[:-1]] = True
    seg = np.nonzero(~first[1:])[0]  # segment k joins points k and k + 1 of one line
    owner = np.repeat(np.arange(len(rows)), counts - 1)
    p0, p1 = take_rows(pts, seg), take_rows(pts, seg + 1)
    d = p1 - p0
    t0, t1 = np.zeros(len(seg)), np.ones(len(seg))
    with np.errstate(divide="ignore", invalid="ignore"):
        for axis, top in ((0, w), (1, h)):
            dk, pk = d[:, axis], p0[:, axis]
            for p, q in ((-dk, pk), (dk, top - pk)):  # the low side, then the high side
                r = q / p
                t0 = np.where(p < 0, np.maximum(t0, r), t0)  # entering through this side
                t1 = np.where(p > 0, np.minimum(t1, r), t1)  # leaving through it
                t1 = np.where((p == 0) & (q < 0), -1.0, t1)  # parallel to this side and beyond it
    seg_len = np.hypot(d[:, 0], d[:, 1])
    total = np.bincount(owner, weights=seg_len, minlength=len(rows))
    vis = t1 > t0
    if not vis.any():
        none = np.zeros(0, dtype=np.int64)
        return np.zeros((0, 2)), none, none, np.zeros(0), total
    # a piece goes on through segment k+1 when k ends at its far vertex and k+1 starts at its near one
    k = np.nonzero(vis)[0]
    go_on = np.zeros(len(k), dtype=bool)
    go_on[1:] = (k[1:] == k[:-1] + 1) & (owner[k[1:]] == owner[k[:-1]]) & (t1[k[:-1]] == 1.0) & (t0[k[1:]] == 0.0)
    starts = ~go_on
    a = np.where((t0[k] == 0.0)[:, None], p0[k], p0[k] + t0[k, None] * d[k])
    b = np.where((t1[k] == 1.0)[:, None], p1[k], p0[k] + t1[k, None] * d[k])
    # each visible segment emits its end point, and a piece's first segment also its start point
    end_at = np.cumsum(1 + starts) - 1
    out = np.empty((end_at[-1] + 1, 2))
    out[end_at] = b
    out[end_at[starts] - 1] = a[starts]
    piece = np.cumsum(starts) - 1
    sizes = np.bincount(piece) + 1
    kept = np.bincount(piece, weights=seg_len[k] * (t1[k] - t0[k]))
    owners = owner[k[starts]]
    if (kept <= 0).any():  # a piece of repeated points only (a line that touches the canvas at a point)
        live = np.nonzero(kept > 0)[0]
        off = np.zeros(len(sizes) + 1, dtype=np.int64)
        np.cumsum(sizes, out=off[1:])
        out, _ = gather_runs(out, off[live], sizes[live])
        sizes, kept, owners = sizes[live], kept[live], owners[live]
    return out, sizes, owners, kept, total
