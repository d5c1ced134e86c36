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
from .instances import Boxes, Lines, Quads
from .report import Report

# Points this close outside the canvas are rounding noise (float maps, -1e-6 from an annotation tool):
# snapped to the edge silently rather than counted as clipped.
HAIR = 1e-3

QUAD_CLIP_POLICIES = ("clamp", "drop")


def clip_boxes(boxes: Boxes, w: float, h: float, report: Report, *, counter: str = "clipped") -> Boxes:
    if len(boxes) == 0:
        return boxes
    b = boxes.xyxy
    c = np.empty_like(b)
    moved = np.zeros(len(b), dtype=bool)
    # Column by column: numpy runs (N, 4) reductions and broadcasts one 4-wide row at a time, which for
    # 10^4 boxes costs more than everything else here together.
    for k, top in enumerate((w, h, w, h)):
        np.clip(b[:, k], 0.0, top, out=c[:, k])
        moved |= np.abs(c[:, k] - b[:, k]) > HAIR
    area = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    carea = (c[:, 2] - c[:, 0]) * (c[:, 3] - c[:, 1])
    keep_frac = np.where(area > 0, carea / np.where(area > 0, area, 1.0), 1.0)
    # A box with no area left (or a degenerate one that ended up off-canvas) is gone.
    outside = (b[:, 0] > w) | (b[:, 2] < 0) | (b[:, 1] > h) | (b[:, 3] < 0) | ((area > 0) & (carea <= 0))
    getattr(report, counter)["boxes"] += int((moved & ~outside).sum())
    keep = np.nonzero(~outside)[0]
    report.drop("boxes", boxes.index[outside], "outside")
    out = Boxes(c, index=boxes.index, visibility=boxes.visibility * keep_frac, _validate=False, **boxes.fields)
    return out if len(keep) == len(b) else out.take(keep)


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
        _snap(pts, w, h)
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

    # Rows inside the canvas pass through as whole blocks of the flat array; only crossing rows are cut.
    crossing = np.nonzero(~inside)[0]
    cut, cut_rows = [], []
    for r, parts in zip(crossing, _line_pieces(lines.flat, o, crossing, shapely.box(0.0, 0.0, w, h))):
        if not parts:
            report.drop("lines", [lines.index[r]], "outside")
            continue
        getattr(report, counter)["lines"] += 1
        report.split["lines"] += len(parts) - 1
        cut.extend(parts)
        cut_rows.extend([r] * len(parts))
    if cut:
        cut_flat = np.concatenate(cut)
        _snap(cut_flat, w, h)
        cut_off = np.concatenate([[0], np.cumsum([len(c) for c in cut])]).astype(np.int64)
        kept = Lines.from_flat(cut_flat, cut_off).lengths()
        total = lines.lengths()[cut_rows]
        cut_vis = lines.visibility[cut_rows] * np.where(total > 0, kept / np.where(total > 0, total, 1.0), 1.0)
    counts = np.diff(o)
    chunks, sizes, rows, vis = [], [], [], []
    prev, k = 0, 0
    for r in list(crossing) + [len(lines)]:
        if r > prev:
            chunks.append(flat[o[prev]:o[r]]), sizes.append(counts[prev:r])
            rows.append(np.arange(prev, r)), vis.append(lines.visibility[prev:r])
        prev = r + 1
        n = 0
        while k + n < len(cut_rows) and cut_rows[k + n] == r:
            n += 1
        if n:
            chunks.append(cut_flat[cut_off[k]:cut_off[k + n]]), sizes.append(cut_off[k + 1:k + n + 1] - cut_off[k:k + n])
            rows.append(np.full(n, r)), vis.append(cut_vis[k:k + n])
            k += n
    if not chunks:
        return lines.take(np.zeros(0, dtype=np.int64))
    rows = np.concatenate(rows).astype(np.int64)
    offsets = np.concatenate([[0], np.cumsum(np.concatenate(sizes))]).astype(np.int64)
    fields = {k: (v[rows] if isinstance(v, np.ndarray) else [v[i] for i in rows]) for k, v in lines.fields.items()}
    return Lines.from_flat(np.concatenate(chunks), offsets, index=lines.index[rows],
                           visibility=np.concatenate(vis).astype(np.float64), **fields)


def _line_pieces(flat: np.ndarray, offsets: np.ndarray, rows: np.ndarray, canvas) -> list:
    """Visible pieces of each polyline ``rows`` (a list of arrays per row), in the line's own direction
    and order. All rows go through shapely together: per-line calls cost ~60 us each."""
    pieces = [[] for _ in rows]
    if len(rows) == 0:
        return pieces
    counts = offsets[rows + 1] - offsets[rows]
    coords = np.concatenate([flat[offsets[r]:offsets[r + 1]] for r in rows])
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
        return pieces
    pc, pidx = shapely.get_coordinates(parts, return_index=True)
    starts = np.searchsorted(pidx, np.arange(len(parts)))
    ends = np.append(starts[1:], len(pc))
    s = shapely.line_locate_point(lines[owner], shapely.points(pc[starts]))
    e = shapely.line_locate_point(lines[owner], shapely.points(pc[ends - 1]))
    for k in np.lexsort((np.minimum(s, e), owner)):  # by line, then along it (stable, as list.sort)
        c = pc[starts[k]:ends[k]]
        pieces[owner[k]].append(c if s[k] <= e[k] else c[::-1].copy())
    return pieces
