"""The one clipping routine: cut every kind of object to a canvas [0, W] x [0, H].

Boxes are clipped; quads are intersected with the canvas and stay quads while that is exact (else the
``quad_clip`` policy applies); lines are intersected and may split into several pieces. Visibility is
multiplied by the kept fraction (area for boxes and quads, length for lines). Objects with nothing left
are dropped and reported. Only objects that actually cross an edge pay for exact geometry.
"""
from __future__ import annotations

import numpy as np
import shapely

from .geometry import signed_area
from .instances import Boxes, Lines, Quads, take_field
from .report import Report

# Points this close outside the canvas are rounding noise (float maps, -1e-6 from an annotation tool):
# snapped to the edge silently rather than counted as clipped.
HAIR = 1e-3

QUAD_CLIP_POLICIES = ("clamp", "drop")


def clip_boxes(boxes: Boxes, w: float, h: float, report: Report, *, counter: str = "clipped") -> Boxes:
    if len(boxes) == 0:
        return boxes
    b = boxes.xyxy
    # A box within the canvas keeps every number (clipped = itself, kept fraction exactly 1): only the
    # ones reaching past an edge pay for the arithmetic below. Column by column throughout, because
    # numpy walks (N, 4) reductions and broadcasts one 4-wide row at a time.
    cross = (b[:, 0] < 0) | (b[:, 1] < 0) | (b[:, 2] > w) | (b[:, 3] > h)
    out_xyxy, vis = b.copy(), boxes.visibility
    if not cross.any():
        getattr(report, counter)["boxes"] += 0  # the report lists boxes as checked, as before
        return Boxes(out_xyxy, index=boxes.index, visibility=vis, outline=boxes.outline, _validate=False,
                     **boxes.fields)
    rows = np.nonzero(cross)[0]
    if boxes.outline is not None:
        return _clip_outlined(boxes, rows, w, h, report, counter)
    br = b[rows]
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
    """Per row: are all points within the canvas up to HAIR."""
    x, y = pts[..., 0], pts[..., 1]
    ok = (x >= -HAIR) & (x <= w + HAIR) & (y >= -HAIR) & (y <= h + HAIR)
    return ok.reshape(ok.shape[0], -1).all(axis=1) if ok.ndim > 1 else ok


def clip_quads(quads: Quads, w: float, h: float, report: Report, *, policy: str = "clamp",
               counter: str = "clipped") -> Quads:
    if len(quads) == 0:
        return quads
    pts = quads.points
    inside = _inside(pts, w, h)
    if inside.all():
        if pts.min() < 0 or pts[..., 0].max() > w or pts[..., 1].max() > h:  # snap a copy, not the caller's
            pts = pts.copy()
            _snap(pts, w, h)
            return Quads(pts, index=quads.index, visibility=quads.visibility, _validate=False, **quads.fields)
        return quads
    pts = pts.copy()
    vis = quads.visibility.copy()
    keep = np.ones(len(quads), dtype=bool)
    rows = np.nonzero(~inside)[0]
    # Every shapely call below takes all crossing quads at once: a per-quad loop costs ~50 us each.
    inter = _cut_polygons(pts[rows], w, h)
    kept = shapely.area(inter)
    area0 = np.abs(signed_area(pts[rows]))
    gone = ((area0 > 0) & (kept <= 0)) | ((area0 == 0) & ~_inside(pts[rows], w, h))
    vis[rows] *= np.where(area0 > 0, kept / np.where(area0 > 0, area0, 1.0), 1.0)
    live = ~gone
    exact, as_quad = _as_quads(inter[live], pts[rows[live]], w, h)
    not_quad = np.zeros(len(rows), dtype=bool)
    not_quad[np.nonzero(live)[0][~as_quad]] = True
    pts[rows[live][as_quad]] = exact
    if policy == "drop":
        keep[rows[not_quad]] = False
    else:
        pts[rows[not_quad]] = _clamp(pts[rows[not_quad]], w, h)
        if not_quad.any():
            report.approximated["quads"] += int(not_quad.sum())
    keep[rows[gone]] = False
    if live.any():
        getattr(report, counter)["quads"] += int(live.sum())
    for r, is_gone, bad in zip(rows, gone, not_quad):  # only dropped rows, in row order, as reported
        if is_gone:
            report.drop("quads", [quads.index[r]], "outside")
        elif bad and policy == "drop":
            report.drop("quads", [quads.index[r]], "not_a_quad_after_clip")
    _snap(pts, w, h)
    out = Quads(pts, index=quads.index, visibility=vis, _validate=False, **quads.fields)
    return out if keep.all() else out.take(np.nonzero(keep)[0])


def _cut_polygons(pts: np.ndarray, w: float, h: float) -> np.ndarray:
    """Intersect quads with the canvas. Convex ones take GEOS's rectangle clipper, ~30x faster than a
    general overlay and exact for convex input; self-intersecting, concave or degenerate ones are
    repaired (make_valid) and overlaid in full."""
    out = np.empty(len(pts), dtype=object)
    convex = _strictly_convex(pts)
    if convex.any():
        out[convex] = shapely.clip_by_rect(shapely.polygons(pts[convex]), 0.0, 0.0, w, h)
    if not convex.all():
        out[~convex] = shapely.intersection(shapely.make_valid(shapely.polygons(pts[~convex])),
                                            shapely.box(0.0, 0.0, w, h))
    return out


def _strictly_convex(pts: np.ndarray) -> np.ndarray:
    """Per quad: all turns in the same direction and none straight (so also simple and non-degenerate)."""
    nxt = [1, 2, 3, 0]
    e = pts[:, nxt] - pts
    turn = e[..., 0] * e[:, nxt, 1] - e[..., 1] * e[:, nxt, 0]
    return (turn > 0).all(axis=1) | (turn < 0).all(axis=1)


def _as_quads(geoms: np.ndarray, originals: np.ndarray, w: float, h: float):
    """The clipped polygons that are exactly quads, as 4 points in their original's rotational order,
    and a mask of which ones were. Others (several parts, holes, 3 or 5+ corners) are left to the policy."""
    is_quad = np.zeros(len(geoms), dtype=bool)
    if len(geoms) == 0:
        return np.zeros((0, 4, 2)), is_quad
    poly = (shapely.get_type_id(geoms) == 3) & (shapely.get_num_interior_rings(geoms) == 0)
    rings = np.full(len(geoms), None, dtype=object)
    rings[poly] = shapely.get_exterior_ring(shapely.simplify(geoms[poly], 0.0))
    is_quad[poly] = shapely.get_num_coordinates(rings[poly]) == 5  # closed ring: 4 corners + repeat
    ring = shapely.get_coordinates(rings[is_quad]).reshape(-1, 5, 2)[:, :4]
    orig = originals[is_quad]
    flip = (signed_area(ring) > 0) != (signed_area(orig) > 0)
    ring[flip] = ring[flip, ::-1]
    # Start where the original's first point now lies (the clipped first corner) to keep its role.
    first = _clamp(orig[:, 0], w, h)
    start = np.argmin(np.hypot(*(ring - first[:, None, :]).transpose(2, 0, 1)), axis=1)
    order = (start[:, None] + np.arange(4)) % 4
    return np.take_along_axis(ring, order[:, :, None], axis=1), is_quad


def _clamp(p: np.ndarray, w: float, h: float) -> np.ndarray:
    out = p.copy()
    np.clip(out[..., 0], 0.0, w, out=out[..., 0])
    np.clip(out[..., 1], 0.0, h, out=out[..., 1])
    return out


def _snap(pts: np.ndarray, w: float, h: float) -> None:
    np.clip(pts[..., 0], 0.0, w, out=pts[..., 0])
    np.clip(pts[..., 1], 0.0, h, out=pts[..., 1])


def clip_lines(lines: Lines, w: float, h: float, report: Report, *, counter: str = "clipped") -> Lines:
    if len(lines) == 0:
        return lines
    o = lines.offsets
    ok_pt = _inside(lines.flat, w, h)
    # a line is inside when all its points are: reduce per row over the flat array
    bad_cum = np.concatenate([[0], np.cumsum(~ok_pt)])
    inside = (bad_cum[o[1:]] - bad_cum[o[:-1]]) == 0
    flat = lines.flat.copy()
    _snap(flat, w, h)
    if inside.all():
        return Lines.from_flat(flat, o, index=lines.index, visibility=lines.visibility, **lines.fields)

    # Only crossing rows are cut; then the pieces and the untouched rows are merged back into row order
    # with index arithmetic, no per-row Python.
    crossing = np.nonzero(~inside)[0]
    pts, sizes, owner = _line_pieces(lines.flat, o, crossing, shapely.box(0.0, 0.0, w, h))
    n_parts = np.bincount(owner, minlength=len(crossing))
    report.drop("lines", lines.index[crossing[n_parts == 0]], "outside")
    if (n_parts > 0).any():
        getattr(report, counter)["lines"] += int((n_parts > 0).sum())
        report.split["lines"] += int((n_parts[n_parts > 0] - 1).sum())
    _snap(pts, w, h)
    cut_rows = crossing[owner]
    kept = Lines.from_flat(pts, np.concatenate([[0], np.cumsum(sizes)])).lengths()
    total = lines.lengths()[cut_rows]
    cut_vis = lines.visibility[cut_rows] * np.where(total > 0, kept / np.where(total > 0, total, 1.0), 1.0)

    counts = np.diff(o)
    rows = np.concatenate([np.nonzero(inside)[0], cut_rows]).astype(np.int64)
    seg_sizes = np.concatenate([counts[inside], sizes]).astype(np.int64)
    all_pts = np.concatenate([flat[np.repeat(inside, counts)], pts])
    all_vis = np.concatenate([lines.visibility[inside], cut_vis]).astype(np.float64)
    order = np.argsort(rows, kind="stable")  # pieces of one row keep their order along it
    seg_starts = np.concatenate([[0], np.cumsum(seg_sizes)[:-1]]).astype(np.int64)
    out_flat, offsets = _gather_segments(all_pts, seg_starts[order], seg_sizes[order])
    rows = rows[order]
    fields = {k: take_field(v, rows) for k, v in lines.fields.items()}
    return Lines.from_flat(out_flat, offsets, index=lines.index[rows], visibility=all_vis[order], **fields)


def _gather_segments(pts: np.ndarray, starts: np.ndarray, sizes: np.ndarray, reverse=None):
    """Concatenate the runs ``pts[starts[k]:starts[k] + sizes[k]]`` (each backwards where ``reverse``),
    returning the points and the new row offsets."""
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    j = np.arange(offsets[-1]) - np.repeat(offsets[:-1], sizes)
    if reverse is not None:
        j = np.where(np.repeat(reverse, sizes), np.repeat(sizes, sizes) - 1 - j, j)
    return pts[np.repeat(starts, sizes) + j], offsets


def _line_pieces(flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray, canvas):
    """Visible pieces of the polylines ``rows``, each in its line's own direction, ordered by line and
    then along it: (points, points per piece, position in ``rows`` of each piece's line). All rows go
    through shapely together: per-line calls cost ~60 us each."""
    none = (np.zeros((0, 2)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if len(rows) == 0:
        return none
    counts = offsets[rows + 1] - offsets[rows]
    coords, _ = _gather_segments(flat, offsets[rows], counts)
    lines = shapely.linestrings(coords, indices=np.repeat(np.arange(len(rows)), counts))
    live = shapely.length(lines) > 0
    # GEOS's rectangle clipper is ~30x faster than a general overlay. Lines running along an edge (where
    # the two may disagree about the closed boundary) and self-crossing ones (which the overlay also cuts
    # at their crossings) take the overlay, so the pieces are the same either way.
    cut = np.empty(len(rows), dtype=object)
    x0, y0, x1, y1 = shapely.bounds(canvas)
    on_edge = (coords[:, 0] == x0) | (coords[:, 0] == x1) | (coords[:, 1] == y0) | (coords[:, 1] == y1)
    exact = np.bincount(np.repeat(np.arange(len(rows)), counts), weights=on_edge, minlength=len(rows)) > 0
    fast = live & ~exact
    fast[fast] = shapely.is_simple(lines[fast])
    cut[fast] = shapely.clip_by_rect(lines[fast], x0, y0, x1, y1)
    cut[live & ~fast] = shapely.intersection(lines[live & ~fast], canvas)
    parts, owner = shapely.get_parts(cut[live], return_index=True)
    owner = np.nonzero(live)[0][owner]
    ok = (shapely.get_type_id(parts) == 1) & (shapely.length(parts) > 0)  # 1: LineString
    parts, owner = parts[ok], owner[ok]
    if len(parts) == 0:
        return none
    pc, pidx = shapely.get_coordinates(parts, return_index=True)
    starts = np.searchsorted(pidx, np.arange(len(parts)))
    ends = np.append(starts[1:], len(pc))
    s = shapely.line_locate_point(lines[owner], shapely.points(pc[starts]))
    e = shapely.line_locate_point(lines[owner], shapely.points(pc[ends - 1]))
    order = np.lexsort((np.minimum(s, e), owner))  # by line, then along it (stable, as list.sort)
    sizes = (ends - starts)[order]
    pts, _ = _gather_segments(pc, starts[order], sizes, reverse=(s > e)[order])
    return pts, sizes, owner[order]
